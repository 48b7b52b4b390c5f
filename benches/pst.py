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
  mailshift      target/release/mailshift convert X.pst OUT
                 (maildir; messages = files in the folders' cur/ and new/. No
                 --report: readpst is not asked to write one either, and the
                 report file's own crash-safe write, two fsyncs, would be
                 charged to mailshift alone)
  readpst -e     readpst -q -e -o OUT X.pst  (one .eml per message; messages
                 = .eml files; contacts and appointments go to .vcf/.ics)
  readpst mbox   readpst -q -o OUT X.pst     (one mbox per folder; messages =
                 From_ lines of the files that are mboxes)

Every run writes a new directory under bench-out/pst-work, and all of them
are deleted together at the end of the run; a run starts timing only 361 s
after the last bulk delete (benches/quiet_fs.py). --rm-between deletes each
output right after it is counted, as earlier versions did. Why: this
machine's ext4 has no journal, and there the inode allocator skips every
inode freed in the last 60 s (300 s more while its table block is dirty) one
at a time (`recently_deleted` in ext4's ialloc.c); deleting run N's output
just before run N+1 made each run pay, per inode it creates, for the
harness's own deletions, and the tool creating the most inodes (maildir: a
file per message, four directories per folder) paid the most. The runs of a file are
interleaved across tools (A B C A B C ...), so that a burst of load from
elsewhere on the machine, or the deletions of the previous file's outputs,
do not fall on one tool's runs only.

--baseline PATH adds a second mailshift binary (say, the build before a
change) as the column `mailshift-base`, timed in the same run: an A/B
comparison on a noisy machine. It does not count as one of the "other" tools.

Prints a table per file with the fastest tool and mailshift's time over the
best other tool's, the number of files where mailshift is not the fastest
(the goal is 0), the totals (messages/s, MB/s, peak RSS, the ratio of each
readpst mode's time to mailshift's, and how many messages each produced),
then mailshift --jobs 1 against --jobs 2 on every file with mail in two or
more folders, converting and with --dry-run (reading only), with the ratios
and, where the files are too small to show a gain, why (--no-jobs skips it).
Writes bench-out/pst.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import quiet_fs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
MAILSHIFT = os.path.join(ROOT, "target", "release", "mailshift")
CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "pst")
TOOLS = ["mailshift", "readpst-e", "readpst-mbox"]
# The binary of the `mailshift-base` column (--baseline), when given.
BASELINE = None
# Set by --rm-between: delete each output as soon as it is counted.
RM_BETWEEN = False
# A counter for fresh output directories.
RUN_NO = [0]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    r = subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift"], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        log("mailshift does not build:\n" + r.stderr[-2000:])
    return r.returncode == 0 and os.access(MAILSHIFT, os.X_OK)


def argv_for(tool, pst, dest, extra=()):
    if tool == "mailshift":
        return [MAILSHIFT, "convert", pst, dest, *extra]
    if tool == "mailshift-base":
        return [BASELINE, "convert", pst, dest, *extra]
    if tool == "readpst-e":
        return ["readpst", "-q", "-e", "-o", dest, pst]
    return ["readpst", "-q", "-o", dest, pst]


def maildir_counts(dest):
    """Messages in a maildir written by mailshift, and how many folders hold any."""
    msgs = folders = 0
    for d, subdirs, _files in os.walk(dest):
        n = sum(len(os.listdir(os.path.join(d, sub))) for sub in ("cur", "new") if sub in subdirs)
        msgs += n
        folders += n > 0
    return msgs, folders


def count_messages(tool, dest):
    """How many mail messages the tool wrote."""
    if tool.startswith("mailshift"):
        return maildir_counts(dest)[0]
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


def best_of(reps, fn):
    return best_of_runs([fn() for _ in range(max(1, reps))])


def best_of_runs(runs):
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_rss_mib"] = max((r["peak_rss_mib"] or 0) for r in runs)
    return best


def run_one(tool, pst, work, extra=()):
    RUN_NO[0] += 1
    dest = os.path.join(work, f"out{RUN_NO[0]}")
    rss_file = os.path.join(work, "rss")
    shutil.rmtree(dest, ignore_errors=True)
    if not tool.startswith("mailshift"):
        os.makedirs(dest)  # readpst wants the directory to exist
    argv = argv_for(tool, pst, dest, extra)
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
    msgs = count_messages(tool, dest)
    mail_folders = maildir_counts(dest)[1] if tool.startswith("mailshift") else None
    if RM_BETWEEN:
        shutil.rmtree(dest, ignore_errors=True)
    # mailshift exits 1 when a file has error findings (a damaged PST) but
    # still writes what it read; readpst exits non-zero when it gives up.
    return {"seconds": secs, "process_seconds": process, "exit": p.returncode, "peak_rss_mib": rss, "messages": msgs,
            "mail_folders": mail_folders,
            "stderr": p.stderr.decode("utf-8", "replace")[-300:] if p.returncode else ""}


def remove_outputs(work):
    """With --rm-between, deletes the outputs of the runs so far. By default
    they stay until the end of the run (benches/quiet_fs.py: a bulk delete
    makes every later file creation pay for minutes, and maildir creates a
    file per message where readpst's mbox mode creates one per folder)."""
    if not RM_BETWEEN:
        return
    for d in os.listdir(work):
        if d.startswith("out"):
            shutil.rmtree(os.path.join(work, d), ignore_errors=True)


# A file counts as multi-folder when mailshift's output has mail in at least
# this many folders: with fewer there is nothing for a second worker to do.
MULTI_FOLDER_MIN = 2


def jobs_comparison(rows, a, work):
    """mailshift --jobs 1 against --jobs 2 on every multi-folder file, both
    converting (sync charged, as above) and with --dry-run (reading, MIME
    building and hashing only: the CPU-bound part a second worker can halve)."""
    out = []
    for row in rows:
        ms = row["runs"].get("mailshift")
        if not ms or (ms.get("mail_folders") or 0) < MULTI_FOLDER_MIN:
            continue
        pst = os.path.join(a.corpus, row["file"])
        r = {"file": row["file"], "bytes": row["bytes"], "mail_folders": ms["mail_folders"],
             "messages": ms["messages"]}
        for mode, extra in (("convert", ()), ("dry-run", ("--dry-run",))):
            for jobs in (1, 2):
                best = best_of(a.reps, lambda: run_one("mailshift", pst, work, (*extra, "--jobs", str(jobs))))
                r[f"{mode} j{jobs}"] = best["seconds"]
        out.append(r)
        remove_outputs(work)
        log(f"{row['file']}: --jobs 1 vs 2: " + ", ".join(f"{k} {v:.3f}s" for k, v in r.items() if " j" in k))
    return out


def print_jobs(jobs_rows, reps):
    """Prints the --jobs comparison and returns its totals for pst.json."""
    if not jobs_rows:
        print("\n--jobs 1 vs --jobs 2: no multi-folder file (or skipped)")
        return None
    cols = ["convert j1", "convert j2", "dry-run j1", "dry-run j2"]
    print(f"\nmailshift --jobs 1 vs --jobs 2 on the {len(jobs_rows)} files with mail in "
          f"{MULTI_FOLDER_MIN}+ folders, best of {reps} runs (convert: sync charged; dry-run: read only)")
    print(f"{'file':<52} {'KiB':>6} {'folders':>7} {'msgs':>5}" + "".join(f" {c:>11}" for c in cols)
          + f" {'j1/j2 conv':>10} {'j1/j2 dry':>9}")
    for r in jobs_rows:
        print(f"{r['file'][:52]:<52} {r['bytes'] // 1024:6d} {r['mail_folders']:7d} {r['messages'] or 0:5d}"
              + "".join(f" {r[c]:11.3f}" for c in cols)
              + f" {r['convert j1'] / r['convert j2']:10.2f} {r['dry-run j1'] / r['dry-run j2']:9.2f}")
    tot = {c: sum(r[c] for r in jobs_rows) for c in cols}
    conv, dry = tot["convert j1"] / tot["convert j2"], tot["dry-run j1"] / tot["dry-run j2"]
    print(f"{'total':<52} {'':6} {'':7} {'':5}" + "".join(f" {tot[c]:11.3f}" for c in cols) + f" {conv:10.2f} {dry:9.2f}")
    print(f"two workers vs one: {conv:.2f}x converting, {dry:.2f}x reading (dry run); > 1 means two are faster")
    if conv >= 1.15 and dry < 1.15:
        print("note: the gain converting comes from overlapping one folder's disk waits (its syncfs and "
              "renames) with another folder's reading and writing, not from reading on two cores: the "
              "reading side of these small files is a few ms per folder (the dry-run ratio is about 1), "
              "below what a second thread can win on a busy 2-core machine.")
    if conv < 1.15:
        biggest = max(jobs_rows, key=lambda r: r["convert j1"])
        print("note: these files are too small to show two workers paying off when converting. "
              f"The slowest takes {biggest['convert j1'] * 1000:.0f} ms with one worker, most of it process "
              "start-up, opening the store and the final sync, which a second worker cannot share; the "
              "work that splits by folder (reading and MIME building, the dry-run columns) is a few ms per "
              "folder, and on a busy 2-core machine a second thread competes with everything else. "
              "The dry-run ratio shows how the reading side scales.")
    return {"files": jobs_rows, "totals": tot, "convert_ratio_j1_over_j2": conv, "dry_run_ratio_j1_over_j2": dry}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="runs per file and tool; the fastest is kept")
    ap.add_argument("--corpus", default=CORPUS, help="directory of .pst/.ost files")
    ap.add_argument("--no-jobs", action="store_true", help="skip the --jobs 1 vs --jobs 2 comparison")
    ap.add_argument("--mailshift", metavar="PATH",
                    help="time this mailshift binary instead of building target/release/mailshift")
    ap.add_argument("--baseline", metavar="PATH",
                    help="also time this mailshift binary (column mailshift-base), for an A/B comparison")
    ap.add_argument("--rm-between", action="store_true",
                    help="delete each run's output before the next run (see above for why not by default)")
    ap.add_argument("--only", metavar="NAMES",
                    help="only the files whose names contain one of these comma-separated strings")
    a = ap.parse_args()
    global BASELINE, RM_BETWEEN
    RM_BETWEEN = a.rm_between
    if a.baseline:
        BASELINE = os.path.abspath(a.baseline)
        TOOLS.insert(1, "mailshift-base")
    files = sorted((os.path.join(a.corpus, f) for f in os.listdir(a.corpus)
                    if f.lower().endswith((".pst", ".ost"))), key=os.path.getsize, reverse=True) \
        if os.path.isdir(a.corpus) else []
    if a.only:
        files = [f for f in files if any(w in os.path.basename(f) for w in a.only.split(","))]
    if not files:
        log(f"no PST files in {a.corpus}")
        return 2
    global MAILSHIFT
    if a.mailshift:
        MAILSHIFT = os.path.abspath(a.mailshift)
    have = {"mailshift": os.access(MAILSHIFT, os.X_OK) if a.mailshift else build(),
            "readpst-e": bool(shutil.which("readpst"))}
    have["readpst-mbox"] = have["readpst-e"]
    have["mailshift-base"] = bool(BASELINE) and os.access(BASELINE, os.X_OK)
    if not have["readpst-e"]:
        log("readpst not found (Debian package pst-utils): its rows say not available")
    os.makedirs(OUT, exist_ok=True)
    rows = []
    work = os.path.join(OUT, "pst-work")
    quiet_fs.remove_trees([work])  # what a crashed run left
    quiet_fs.wait_until_quiet()
    os.makedirs(work)
    for pst in files:
        row = {"file": os.path.basename(pst), "bytes": os.path.getsize(pst), "runs": {}}
        tools = [t for t in TOOLS if have[t]]
        runs = {t: [] for t in tools}
        for _ in range(max(1, a.reps)):
            for tool in tools:
                runs[tool].append(run_one(tool, pst, work))
        for tool in tools:
            row["runs"][tool] = best_of_runs(runs[tool])
        remove_outputs(work)
        rows.append(row)
        log(f"{row['file']}: " + ", ".join(f"{t} {r['seconds']:.3f}s/{r['messages']}"
                                           for t, r in row["runs"].items()))
    jobs_rows = jobs_comparison(rows, a, work) if have["mailshift"] and not a.no_jobs else []
    quiet_fs.remove_trees([work])

    print(f"\nPST/OST -> maildir, {len(files)} corpus files, best of {a.reps} runs each "
          f"(times include a final sync)")
    head = f"{'file':<52} {'KiB':>6}"
    for t in TOOLS:
        head += f" {t + ' s':>14} {'msgs':>5}"
    head += f"  {'fastest':<13} {'mailshift/best other':>20}"
    print(head)
    slower = {t: 0 for t in TOOLS[1:]}
    not_fastest = []
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
        # The baseline binary is an A/B reference, not a competitor.
        contenders = [t for t in row["runs"] if t != "mailshift-base"]
        fastest = min(contenders, key=lambda t: row["runs"][t]["seconds"])
        others = [r["seconds"] for t, r in row["runs"].items() if t.startswith("readpst")]
        margin = f"{ms['seconds'] / min(others):.2f}" if ms and others else "-"
        row["fastest"] = fastest
        if fastest != "mailshift":
            not_fastest.append(row["file"])
        print(line + f"  {fastest:<13} {margin:>20}")
    print("(! = non-zero exit: a damaged or unsupported file; mailshift/best other < 1 means mailshift won)")
    print(f"mailshift not the fastest on {len(not_fastest)} of {len(rows)} files (goal: 0)"
          + (": " + ", ".join(not_fastest) if not_fastest else ""))
    if BASELINE:
        base_wins = [row["file"] for row in rows if "mailshift-base" in row["runs"] and "mailshift" in row["runs"]
                     and row["runs"]["mailshift-base"]["seconds"] < row["runs"]["mailshift"]["seconds"]]
        print(f"mailshift-base ({BASELINE}) faster than mailshift on {len(base_wins)} of {len(rows)} files")
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
    jobs_summary = print_jobs(jobs_rows, a.reps)
    with open(os.path.join(OUT, "pst.json"), "w") as f:
        json.dump({"reps": a.reps, "sync_charged_to_each_tool": True, "outputs_deleted_between_runs": RM_BETWEEN,
                   "baseline": BASELINE, "files": rows, "totals": totals,
                   "not_fastest": not_fastest, "jobs": jobs_summary}, f, indent=2)
    print(f"\nwritten {os.path.relpath(os.path.join(OUT, 'pst.json'), ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
