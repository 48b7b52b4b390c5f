#!/usr/bin/env python3
"""Benchmark: PST/OST -> maildir with mailshift, against readpst, on every
PST and OST file of the shared corpus (../shared/corpus/pst), in one run.

Run by `scripts/bench pst` (not in CI). For each file and each tool the run
is repeated (--reps, default 3) and the fastest repetition is kept, since
the corpus files are small (65 KiB to 4 MiB) and one run is mostly process
start-up noise. Like benches/convert.py, each tool is timed until its output
is on disk: the harness runs `sync` after each run and charges it to the tool
(the totals also show the time without that sync: `sync` flushes every
file system, so on a busy machine it adds other processes' writes).
Peak RSS is GNU time's %M.

Tools:
  mailshift      target/release/mailshift convert X.pst OUT --report R.json
                 (maildir; messages = the report's `written`)
  readpst -e     readpst -q -e -o OUT X.pst  (one .eml per message; messages
                 = .eml files; contacts and appointments go to .vcf/.ics)
  readpst mbox   readpst -q -o OUT X.pst     (one mbox per folder; messages =
                 From_ lines of the files that are mboxes)

Prints a table per file and the totals (messages/s, MB/s, peak RSS, the
ratio of each readpst mode's time to mailshift's, and how many messages each
produced), and writes bench-out/pst.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
MAILSHIFT = os.path.join(ROOT, "target", "release", "mailshift")
CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "pst")
TOOLS = ["mailshift", "readpst-e", "readpst-mbox"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    r = subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift"], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        log("mailshift does not build:\n" + r.stderr[-2000:])
    return r.returncode == 0 and os.access(MAILSHIFT, os.X_OK)


def argv_for(tool, pst, dest, report):
    if tool == "mailshift":
        return [MAILSHIFT, "convert", pst, dest, "--report", report]
    if tool == "readpst-e":
        return ["readpst", "-q", "-e", "-o", dest, pst]
    return ["readpst", "-q", "-o", dest, pst]


def count_messages(tool, dest, report):
    """How many mail messages the tool wrote."""
    if tool == "mailshift":
        try:
            with open(report) as f:
                return json.load(f).get("written")
        except (OSError, ValueError):
            return None
    n = 0
    for d, _subdirs, files in os.walk(dest):
        for name in files:
            path = os.path.join(d, name)
            if tool == "readpst-e":
                n += name.endswith(".eml")
                continue
            with open(path, "rb") as f:
                data = f.read()
            if not data.startswith(b"From "):
                continue  # contacts (vCard) and calendar (iCalendar) files
            n += 1 + data.count(b"\n\nFrom ")
    return n


def run_one(tool, pst, work):
    dest = os.path.join(work, "out")
    report = os.path.join(work, "report.json")
    rss_file = os.path.join(work, "rss")
    shutil.rmtree(dest, ignore_errors=True)
    if tool != "mailshift":
        os.makedirs(dest)  # readpst wants the directory to exist
    argv = argv_for(tool, pst, dest, report)
    timed = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv if os.access("/usr/bin/time", os.X_OK) else argv
    t0 = time.monotonic()
    p = subprocess.run(timed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    process = time.monotonic() - t0
    os.sync()
    secs = time.monotonic() - t0
    rss = None
    try:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    msgs = count_messages(tool, dest, report)
    shutil.rmtree(dest, ignore_errors=True)
    # mailshift exits 1 when a file has error findings (a damaged PST) but
    # still writes what it read; readpst exits non-zero when it gives up.
    return {"seconds": secs, "process_seconds": process, "exit": p.returncode, "peak_rss_mib": rss, "messages": msgs,
            "stderr": p.stderr.decode("utf-8", "replace")[-300:] if p.returncode else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="runs per file and tool; the fastest is kept")
    ap.add_argument("--corpus", default=CORPUS, help="directory of .pst/.ost files")
    a = ap.parse_args()
    files = sorted((os.path.join(a.corpus, f) for f in os.listdir(a.corpus)
                    if f.lower().endswith((".pst", ".ost"))), key=os.path.getsize, reverse=True) \
        if os.path.isdir(a.corpus) else []
    if not files:
        log(f"no PST files in {a.corpus}")
        return 2
    have = {"mailshift": build(), "readpst-e": bool(shutil.which("readpst"))}
    have["readpst-mbox"] = have["readpst-e"]
    if not have["readpst-e"]:
        log("readpst not found (Debian package pst-utils): its rows say not available")
    os.makedirs(OUT, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mailshift-pst-bench-", dir=OUT) as work:
        for pst in files:
            row = {"file": os.path.basename(pst), "bytes": os.path.getsize(pst), "runs": {}}
            for tool in TOOLS:
                if not have[tool]:
                    continue
                runs = [run_one(tool, pst, work) for _ in range(max(1, a.reps))]
                best = min(runs, key=lambda r: r["seconds"])
                best["peak_rss_mib"] = max((r["peak_rss_mib"] or 0) for r in runs)
                row["runs"][tool] = best
            rows.append(row)
            log(f"{row['file']}: " + ", ".join(f"{t} {r['seconds']:.3f}s/{r['messages']}"
                                               for t, r in row["runs"].items()))

    print(f"\nPST/OST -> maildir, {len(files)} corpus files, best of {a.reps} runs each "
          f"(times include a final sync)")
    head = f"{'file':<52} {'KiB':>6}"
    for t in TOOLS:
        head += f" {t + ' s':>14} {'msgs':>5}"
    print(head)
    slower = {t: 0 for t in TOOLS[1:]}
    for row in rows:
        line = f"{row['file'][:52]:<52} {row['bytes'] // 1024:6d}"
        ms = row["runs"].get("mailshift")
        for t in TOOLS:
            r = row["runs"].get(t)
            if r is None:
                line += f" {'-':>14} {'-':>5}"
                continue
            mark = "" if r["exit"] == 0 else "!"
            line += f" {r['seconds']:13.3f}{mark or ' '} {r['messages'] if r['messages'] is not None else '-':>5}"
            if t != "mailshift" and ms and r["seconds"] < ms["seconds"]:
                slower[t] += 1
        print(line)
    print("(! = non-zero exit: a damaged or unsupported file)")
    total_bytes = sum(r["bytes"] for r in rows)
    totals = {}
    print(f"\n{'tool':<14} {'seconds':>8} {'w/o sync':>8} {'msgs':>6} {'msg/s':>8} {'MB/s':>7} {'peak RSS MiB':>13} {'time vs mailshift':>18}")
    for t in TOOLS:
        runs = [row["runs"][t] for row in rows if t in row["runs"]]
        if not runs:
            print(f"{t:<14} not available")
            continue
        secs = sum(r["seconds"] for r in runs)
        process = sum(r["process_seconds"] for r in runs)
        msgs = sum(r["messages"] or 0 for r in runs)
        rss = max((r["peak_rss_mib"] or 0) for r in runs)
        totals[t] = {"seconds": secs, "process_seconds": process, "messages": msgs, "peak_rss_mib": rss,
                     "messages_per_s": msgs / secs, "mb_per_s": total_bytes / 1e6 / secs}
        ratio = ""
        if "mailshift" in totals:
            ratio = f"{secs / totals['mailshift']['seconds']:.2f}x"
            totals[t]["ratio_vs_mailshift"] = secs / totals["mailshift"]["seconds"]
        print(f"{t:<14} {secs:8.3f} {process:8.3f} {msgs:6d} {msgs / secs:8.0f} {total_bytes / 1e6 / secs:7.1f} {rss:13.1f} {ratio:>18}")
    if "mailshift" in totals:
        for t in TOOLS[1:]:
            if t in totals:
                print(f"mailshift vs {t}: {totals[t]['seconds'] / totals['mailshift']['seconds']:.2f}x faster in total; "
                      f"{t} faster on {slower[t]} of {len(rows)} files (goal: 0); messages "
                      f"{totals['mailshift']['messages']} vs {totals[t]['messages']}")
    with open(os.path.join(OUT, "pst.json"), "w") as f:
        json.dump({"reps": a.reps, "sync_charged_to_each_tool": True, "files": rows, "totals": totals}, f, indent=2)
    print(f"\nwritten {os.path.relpath(os.path.join(OUT, 'pst.json'), ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
