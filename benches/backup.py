#!/usr/bin/env python3
"""Benchmark: mailshift backup / verify / restore against tar and zstd, on
the same generated maildir in the same run.

Run with `python3 benches/backup.py` (not in CI; needs tar, zstd and GNU time).
The input is a deterministic 1 GiB maildir made by `mailshift-gen maildir`
(realistic profile) in bench-out/, kept between runs.

Pairs timed (the same zstd level, 3, and every core for both):
  backup   tar -cf - DIR | zstd -T0 -3      vs  mailshift backup DIR --to OUT
  verify   zstd -dc A | tar -tf -           vs  mailshift verify A
  restore  zstd -dc A | tar -xf - -C DEST   vs  mailshift restore A DEST

With `age` installed, the same three again encrypted (`--encrypt-to`, one
X25519 recipient; `| age -r R` and `age -d -i KEY |` in the pipelines):
ops backup-age, verify-age, restore-age (no goal; shown for the cost of age).

mailshift does more in each: it hashes every message (BLAKE3, twice on
backup: raw and CRLF-normalised), writes the manifest and the whole-file
hash, checks every entry on verify and restore against the manifest, and
fsyncs on backup and restore. The harness runs `sync` after every command
and charges it to that command, so a tool that leaves its output in the page
cache pays for writing it. The source is read from a warm page cache (one
untimed read first): what is measured is the tools, not the disk. Peak RSS
is GNU time's %M (for a pipeline, its largest process).

Repetitions (--reps N, default 3; --age-reps for the encrypted ops, default
1): each op runs N times per tool, alternating the order (theirs, ours |
ours, theirs | theirs, ours ...; with --baseline the three tools rotate),
so that neither tool always runs first after the other's writes. Each row
prints the median, the min-max spread and the ratio of the medians. This
machine is shared (2 cores): a single pair can swing by 2x.

Nothing is deleted during a run. This VM's ext4 has no journal, and for
60-360 s after many files are deleted, creating inodes pays a scan past them
(`recently_deleted`): a restore right after deleting the previous one's
1 GiB tree paid up to 4 s of extra kernel CPU. So every repetition restores
into its own fresh directory (x-restore-mailshift-2, ...), everything stays
in bench-out/backup-work/ after the run, and is removed at the start of the
next run (or at its end with --clean-after); nothing is timed until 361 s
after the last bulk delete (benches/quiet_fs.py).
That is a copy of the maildir per restore (6 GiB with the defaults, more
with --baseline): the run refuses to start when the disk would be left with
less than 5 GiB free, and --clean-after removes it all at the end instead
(then the next minutes of file creation on this disk pay the scan).

--baseline BIN adds the row "baseline": another mailshift build (say, before
a change) on the same input and archives, for before/after figures in one run.
--only OPS limits the ops (comma-separated); the archives verify and restore
read are then made untimed.

Goals (issue #5): backup and verify at least 0.9x the throughput of the
standard tools; restore faster than `zstd -dc | tar -x`; peak RSS bounded.
Writes a table on stdout and bench-out/backup.json (every run and the
per-row summaries).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import quiet_fs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
WORK = os.path.join(OUT, "backup-work")
GEN = os.path.join(ROOT, "target", "release", "mailshift-gen")
MAILSHIFT = os.environ.get("MAILSHIFT_BIN") or os.path.join(ROOT, "target", "release", "mailshift")
THEIRS = "tar+zstd"
OPS = ["backup", "verify", "restore", "backup-age", "verify-age", "restore-age"]
GOALS = {"backup": 0.9, "verify": 0.9, "restore": 1.0}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift-testkit", "--bin", "mailshift-gen"],
                   cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift"], cwd=ROOT, check=True)


def generate(size):
    path = os.path.join(OUT, f"maildir-{size}")
    meta = path + ".json"
    if not (os.path.isdir(path) and os.path.exists(meta)):
        shutil.rmtree(path, ignore_errors=True)
        log(f"generating {path} ...")
        r = subprocess.run([GEN, "maildir", path, "--size", size, "--profile", "realistic", "--seed", "1"],
                           check=True, stdout=subprocess.PIPE, text=True)
        with open(meta, "w") as f:
            f.write(r.stdout)
    with open(meta) as f:
        return path, json.load(f)


def warm(path):
    """Reads every file once so both tools start from the same warm cache."""
    for d, _subdirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def clear_work():
    """Removes what an earlier run kept, then waits until new inodes are
    cheap again (benches/quiet_fs.py) before anything is timed."""
    quiet_fs.remove_trees([WORK])
    quiet_fs.wait_until_quiet()


def run(argv, shell=False):
    rss_file = os.path.join(WORK, "time.rss")
    cmd = ["sh", "-c", argv] if shell else argv
    timed = ["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file] + cmd if os.access("/usr/bin/time", os.X_OK) else cmd
    os.sync()
    t0 = time.monotonic()
    p = subprocess.run(timed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.sync()
    secs = time.monotonic() - t0
    rss = cpu = None
    try:
        with open(rss_file) as f:
            fields = f.read().split()
        rss = int(fields[-3]) / 1024
        cpu = float(fields[-2]) + float(fields[-1])
        os.remove(rss_file)
    except (OSError, ValueError, IndexError):
        pass
    err = p.stderr.decode("utf-8", "replace")
    return {"ok": p.returncode == 0, "exit": p.returncode, "seconds": secs, "peak_rss_mib": rss, "cpu_seconds": cpu,
            "command": argv if shell else " ".join(argv), "stderr": err[-400:] if p.returncode else "",
            "load_before": os.getloadavg()[0]}


def order(tools, rep):
    """The tools of repetition `rep` (from 0), rotated by one each time: with
    two tools theirs, ours | ours, theirs | ...; with three each runs first,
    between and last once in three repetitions."""
    k = rep % len(tools)
    return tools[k:] + tools[:k]


def summarize(op, tool, runs, size):
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return {"op": op, "tool": tool, "ok": False, "runs": len(runs),
                "stderr": runs[0]["stderr"] if runs else "not run", "exit": runs[0]["exit"] if runs else None}
    secs = [r["seconds"] for r in ok]
    cpus = [r["cpu_seconds"] for r in ok if r["cpu_seconds"] is not None]
    rss = [r["peak_rss_mib"] for r in ok if r["peak_rss_mib"] is not None]
    med = statistics.median(secs)
    return {"op": op, "tool": tool, "ok": len(ok) == len(runs), "runs": len(runs), "failed": len(runs) - len(ok),
            "median_seconds": med, "min_seconds": min(secs), "max_seconds": max(secs),
            "mb_per_s": size / 1e6 / med, "median_cpu_seconds": statistics.median(cpus) if cpus else None,
            "max_peak_rss_mib": max(rss) if rss else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1G", help="size of the generated maildir (default 1G)")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each op and tool (default 3)")
    ap.add_argument("--age-reps", type=int, default=1, help="repetitions of the encrypted ops (default 1)")
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(OPS))
    ap.add_argument("--baseline", metavar="BIN", help="another mailshift binary, run as the row `baseline`")
    ap.add_argument("--clean-after", action="store_true",
                    help="remove the outputs at the end of the run (default: at the start of the next one)")
    a = ap.parse_args()
    if a.reps < 1 or a.age_reps < 0:
        ap.error("--reps must be at least 1, --age-reps at least 0")
    ops = [o for o in OPS if not a.only or o in a.only.split(",")]
    if a.only and set(a.only.split(",")) - set(OPS):
        ap.error(f"unknown op in --only: {a.only}")
    have_age = shutil.which("age") and shutil.which("age-keygen")
    if not have_age and any(o.endswith("-age") for o in ops):
        log("age not installed: the encrypted ops are left out")
        ops = [o for o in ops if not o.endswith("-age")]
    if a.age_reps == 0:
        ops = [o for o in ops if not o.endswith("-age")]
    os.makedirs(OUT, exist_ok=True)
    if not a.no_build:
        build()
    src, meta = generate(a.size)
    size = meta.get("bytes") or meta.get("message_bytes")
    msgs = meta.get("messages")
    tools = [THEIRS, "mailshift"] + (["baseline"] if a.baseline else [])
    clear_work()
    # Restored trees (one per repetition and tool), archives, and a margin.
    copies = sum((a.age_reps if o.endswith("-age") else a.reps) for o in ops if o.startswith("restore")) * len(tools)
    need = copies * size + 4 * size + (5 << 30)
    free = shutil.disk_usage(OUT).free
    if free < need:
        sys.exit(f"not enough disk space in {OUT}: {free / 2**30:.1f} GiB free, the run needs about "
                 f"{need / 2**30:.1f} GiB (fewer --reps / --age-reps, or --only)")
    os.makedirs(WORK)
    parent, base = os.path.split(src)
    binary = {"mailshift": MAILSHIFT, "baseline": os.path.abspath(a.baseline) if a.baseline else None}
    key = os.path.join(WORK, "key.txt")
    rcpt = None
    if have_age and any(o.endswith("-age") for o in ops):
        subprocess.run(["age-keygen", "-o", key], check=True, stderr=subprocess.DEVNULL)
        rcpt = subprocess.run(["age-keygen", "-y", key], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()

    def out_dir(op, tool, rep):
        return os.path.join(WORK, f"{op}-{tool.replace('+', '-')}-{rep}")

    # The archives verify and restore read: those of the first backup
    # repetition (made untimed when backup is not among the ops).
    ref = {False: os.path.join(out_dir("backup", THEIRS, 1), "ref.tar.zst"),
           True: os.path.join(out_dir("backup-age", THEIRS, 1), "ref.tar.zst.age")}
    ours = {False: os.path.join(out_dir("backup", "mailshift", 1), "bench.tar.zst"),
            True: os.path.join(out_dir("backup-age", "mailshift", 1), "bench.tar.zst.age")}

    def command(op, tool, rep):
        age = op.endswith("-age")
        kind = op.removesuffix("-age")
        if tool == THEIRS:
            if kind == "backup":
                out = os.path.join(out_dir(op, tool, rep), os.path.basename(ref[age]))
                enc = f" | age -r {rcpt} -o '{out}'" if age else f" -o '{out}'"
                return f"tar -cf - -C '{parent}' '{base}' | zstd -q -T0 -3{enc}", True
            dec = f"age -d -i '{key}' '{ref[age]}' | zstd -dc" if age else f"zstd -dc '{ref[age]}'"
            if kind == "verify":
                return f"{dec} | tar -tf - > /dev/null", True
            return f"{dec} | tar -xf - -C '{out_dir(op, tool, rep)}'", True
        b = binary[tool]
        if kind == "backup":
            enc = ["--encrypt-to", rcpt] if age else []
            return [b, "backup", src, "--to", out_dir(op, tool, rep), "--name", "bench", "--level", "3"] + enc, False
        ident = ["--identity", key] if age else []
        if kind == "verify":
            return [b, "verify", ours[age]] + ident, False
        return [b, "restore", ours[age], out_dir(op, tool, rep)] + ident, False

    def prepare(op, tool, rep):
        kind = op.removesuffix("-age")
        d = out_dir(op, tool, rep)
        if kind == "backup" or (kind == "restore" and tool == THEIRS):
            os.makedirs(d, exist_ok=True)  # tar -C wants it; mailshift creates its own

    for age in (False, True):
        op = "backup-age" if age else "backup"
        if op in ops or not any(o.endswith("-age") == age for o in ops):
            continue
        log(f"making the archives for {'the encrypted ops' if age else 'verify and restore'} (untimed) ...")
        for tool in (THEIRS, "mailshift"):
            prepare(op, tool, 1)
            cmd, shell = command(op, tool, 1)
            subprocess.run(["sh", "-c", cmd] if shell else cmd, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    warm(src)
    load_start = os.getloadavg()[0]
    runs = []
    for op in ops:
        for rep in range(1, (a.age_reps if op.endswith("-age") else a.reps) + 1):
            for tool in order(tools, rep - 1):
                prepare(op, tool, rep)
                cmd, shell = command(op, tool, rep)
                log(f"{op} #{rep}: {tool} ...")
                r = run(cmd, shell=shell)
                r.update(op=op, tool=tool, rep=rep)
                runs.append(r)
                if not r["ok"]:
                    log(f"  failed: {r['stderr']}")
                else:
                    log(f"  {r['seconds']:.2f} s")
            if op.startswith("backup") and rep > 1:
                # Only the first repetition's archives are read later; the
                # others go now (a few big files: no inode scan to pay).
                for tool in tools:
                    shutil.rmtree(out_dir(op, tool, rep), ignore_errors=True)

    sizes = {THEIRS: os.path.getsize(ref[False]) if os.path.exists(ref[False]) else None,
             "mailshift": os.path.getsize(ours[False]) if os.path.exists(ours[False]) else None}
    print(f"\n{msgs} messages, {size / 2**20:.0f} MiB maildir (zstd level 3, all cores; times include a final sync)")
    print(f"archive size: tar+zstd {sizes[THEIRS]}, mailshift {sizes['mailshift']} bytes")
    print(f"repetitions: {a.reps} ({a.age_reps} for the encrypted ops), order alternating; "
          "seconds = median [min-max]; ratios = their median / this median")
    print(f"{'op':<11} {'tool':<10} {'n':>2} {'median s':>8} {'[min-max]':>13} {'MB/s':>7} {'RSS MiB':>8} "
          f"{'CPU s':>6} {'throughput vs tar+zstd':>23} {'CPU vs tar+zstd':>16}")
    summary = []
    for op in ops:
        rows = {t: summarize(op, t, [r for r in runs if r["op"] == op and r["tool"] == t], size) for t in tools}
        them = rows[THEIRS]
        for t in tools:
            s = rows[t]
            summary.append(s)
            if "median_seconds" not in s:
                print(f"{op:<11} {t:<10} failed (exit {s['exit']}): {s['stderr'].strip()[:200]}")
                continue
            ratio = them["median_seconds"] / s["median_seconds"] if "median_seconds" in them else None
            s["throughput_ratio"] = ratio
            cpu_ratio = (s["median_cpu_seconds"] / them["median_cpu_seconds"]
                         if them.get("median_cpu_seconds") and s["median_cpu_seconds"] is not None else None)
            s["cpu_ratio"] = cpu_ratio
            spread = f"[{s['min_seconds']:.2f}-{s['max_seconds']:.2f}]"
            rss = f"{s['max_peak_rss_mib']:.1f}" if s["max_peak_rss_mib"] is not None else "-"
            cpu = f"{s['median_cpu_seconds']:.2f}" if s["median_cpu_seconds"] is not None else "-"
            failed = f"  ({s['failed']} failed)" if s["failed"] else ""
            print(f"{op:<11} {t:<10} {s['runs']:>2} {s['median_seconds']:8.2f} {spread:>13} {s['mb_per_s']:7.1f} "
                  f"{rss:>8} {cpu:>6} {(f'{ratio:.2f}x' if ratio else '-'):>23} "
                  f"{(f'{cpu_ratio:.2f}x' if cpu_ratio else '-'):>16}{failed}")
    for op, goal in GOALS.items():
        s = next((x for x in summary if x["op"] == op and x["tool"] == "mailshift"), None)
        if s and s.get("throughput_ratio"):
            met = "met" if s["throughput_ratio"] >= goal else "NOT met"
            print(f"goal {op}: >= {goal}x tar+zstd throughput (medians): {s['throughput_ratio']:.2f}x ({met})")
    load_end = os.getloadavg()[0]
    with open(os.path.join(OUT, "backup.json"), "w") as f:
        json.dump({"size": a.size, "generated": meta, "archive_bytes": sizes, "reps": a.reps, "age_reps": a.age_reps,
                   "order": "alternating (see benches/backup.py)", "baseline": a.baseline,
                   "load_average": {"start": load_start, "end": load_end},
                   "summary": summary, "runs": runs}, f, indent=2)
    print(f"load average: {load_start:.1f} at the start, {load_end:.1f} at the end, on {os.cpu_count()} cores "
          "(other work on the machine slows both tools, not equally: compare CPU seconds too)")
    kept = "were removed" if a.clean_after else "stay until the next run removes them"
    print(f"\nwritten {os.path.relpath(os.path.join(OUT, 'backup.json'), ROOT)}; the outputs in "
          f"{os.path.relpath(WORK, ROOT)} {kept}")
    if a.clean_after:
        quiet_fs.remove_trees([WORK])


if __name__ == "__main__":
    main()
