#!/usr/bin/env python3
"""Benchmark: mbox -> maildir with mailshift and with the tools a mail admin
would otherwise reach for, on the same generated input in the same run.

Run by scripts/bench (not in CI). Inputs are two deterministic 1 GiB mboxes
made by `mailshift-gen` in bench-out/ (kept between runs): a realistic one
(about 9,000 messages, attachments up to several MB) and a dense one (about
60,000 small messages).

Every tool is timed from start until its output is on disk: the harness runs
`sync` after each tool and charges it to that tool, so a tool that leaves
its files in the page cache pays for writing them like one that fsyncs.
Page caches are dropped before each run when the kernel allows it (root).
Peak RSS is GNU time's %M for the tool's process (a child forked from this
Python process would inherit Python's own high-water mark in wait4()).

Each tool writes into a directory of its own, and the outputs are deleted
only at the end of the run; the next run waits until 361 s after that
(benches/quiet_fs.py): ext4 without a journal, as on this machine, will not
reuse an inode deleted less than one to six minutes ago and scans past every
such inode at each file creation, so a tool started right after the previous
tool's 60,000 files were deleted spent up to half its time in that scan
(find_inode_bit / recently_deleted in `perf`).

Tools:
  mailshift   target/release/mailshift convert X.mbox OUT
  mb2md       mb2md -s X.mbox -d OUT                 (Debian package mb2md)
  mdeliver    mdeliver -M OUT < X.mbox               (Debian package mblaze)
  python      mailbox.mbox -> mailbox.Maildir.add    (Python standard library)
  floor       mailshift-gen floor X.mbox OUT: the same message bytes written
              one file each, then one syncfs: what the disk itself costs.

Writes a table on stdout and bench-out/convert.json.
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
GEN = os.path.join(ROOT, "target", "release", "mailshift-gen")
MAILSHIFT = os.path.join(ROOT, "target", "release", "mailshift")
INPUTS = {"realistic": 1, "dense": 2}  # profile -> seed
GOALS = {"realistic": 2, "dense": 3}  # speed-up wanted over the fastest other tool


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def drop_caches():
    """Flushes dirty pages and, when permitted, empties the page cache."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def build():
    """Release builds; mailshift may fail to build while it is being written."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift-testkit", "--bin", "mailshift-gen"],
                   cwd=ROOT, check=True)
    r = subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift"], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        log("mailshift does not build:\n" + r.stderr[-2000:])
    return r.returncode == 0 and os.access(MAILSHIFT, os.X_OK)


def generate(profile, seed, size):
    path = os.path.join(OUT, f"{profile}-{size}.mbox")
    meta = path + ".json"
    if not (os.path.exists(path) and os.path.exists(meta)):
        log(f"generating {path} ...")
        t = time.monotonic()
        r = subprocess.run([GEN, "mbox", path + ".partial", "--size", size, "--profile", profile,
                            "--seed", str(seed)], check=True, stdout=subprocess.PIPE, text=True)
        os.replace(path + ".partial", path)
        with open(meta, "w") as f:
            f.write(r.stdout)
        log(f"  {time.monotonic() - t:.1f} s")
    with open(meta) as f:
        return path, json.load(f)


def python_mailbox(src, dest):
    """The Python way: each message parsed, then added to a Maildir."""
    import mailbox
    md = mailbox.Maildir(dest, create=True)
    for msg in mailbox.mbox(src, create=False):
        md.add(msg)


def count_files(dest):
    n = 0
    for _dir, _subdirs, files in os.walk(dest):
        n += sum(1 for f in files if not f.startswith(("dovecot", ".", "maildirfolder")))
    return n


def tools(src, dest, have_mailshift):
    maildir = ["mkdir", "-p", f"{dest}/tmp", f"{dest}/new", f"{dest}/cur"]
    return [
        ("mailshift", [MAILSHIFT, "convert", src, dest] if have_mailshift else None, None, None),
        ("mb2md", ["mb2md", "-s", src, "-d", dest] if shutil.which("mb2md") else None, None, None),
        ("mdeliver", ["mdeliver", "-M", dest] if shutil.which("mdeliver") else None, src, maildir),
        ("python", [sys.executable, os.path.abspath(__file__), "--python-mailbox", src, dest], None, None),
        ("floor", [GEN, "floor", src, dest], None, None),
    ]


def run_one(name, argv, stdin_path, prepare, dest):
    shutil.rmtree(dest, ignore_errors=True)
    if prepare:
        subprocess.run(prepare, check=True)
    dropped = drop_caches()
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    rss_file = dest + ".rss"
    timed = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv if os.access("/usr/bin/time", os.X_OK) else argv
    t0 = time.monotonic()
    p = subprocess.Popen(timed, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _pid, status, ru = os.wait4(p.pid, 0)
    os.sync()  # every tool pays for its durability
    secs = time.monotonic() - t0
    if stdin_path:
        stdin.close()
    code = os.waitstatus_to_exitcode(status)
    rss_kib = ru.ru_maxrss
    try:
        with open(rss_file) as f:
            rss_kib = int(f.read().split()[-1])
        os.remove(rss_file)
    except (OSError, ValueError, IndexError):
        pass
    files = count_files(dest)
    return {"tool": name, "ok": code == 0, "exit": code, "seconds": secs, "peak_rss_mib": rss_kib / 1024,
            "files": files, "caches_dropped": dropped,
            "stderr": err.decode("utf-8", "replace")[-500:] if code != 0 else "",
            "command": " ".join(argv) + (f" < {stdin_path}" if stdin_path else "")}


def table(profile, meta, rows):
    msgs, size = meta["messages"], meta["bytes"]
    ms = next((r for r in rows if r["tool"] == "mailshift" and r.get("ok")), None)
    floor = next((r for r in rows if r["tool"] == "floor" and r.get("ok")), None)
    print(f"\n{profile}: {msgs} messages, {size / 2**20:.0f} MiB (times include a final sync)")
    print(f"{'tool':<10} {'seconds':>8} {'msg/s':>9} {'MB/s':>8} {'RSS MiB':>8} {'files':>7} {'vs mailshift':>13}")
    for r in rows:
        if not r.get("ok"):
            why = r.get("why") or f"failed (exit {r.get('exit')}): {r.get('stderr', '').strip()[:300]}"
            print(f"{r['tool']:<10} {why}")
            continue
        s = r["seconds"]
        r["messages_per_s"] = msgs / s
        r["mb_per_s"] = size / 1e6 / s
        ratio = f"{s / ms['seconds']:.2f}x" if ms else "-"
        r["ratio_vs_mailshift"] = s / ms["seconds"] if ms else None
        print(f"{r['tool']:<10} {s:8.2f} {msgs / s:9.0f} {size / 1e6 / s:8.1f} {r['peak_rss_mib']:8.1f} "
              f"{r['files']:7d} {ratio:>13}")
    others = [r for r in rows if r.get("ok") and r["tool"] in ("mb2md", "mdeliver", "python")]
    goal = GOALS.get(profile)
    if ms and others:
        best = min(others, key=lambda r: r["seconds"])
        speedup = best["seconds"] / ms["seconds"]
        print(f"mailshift vs the fastest other tool ({best['tool']}): {speedup:.2f}x faster"
              + (f" (goal {goal}x)" if goal else ""))
    if ms and floor:
        print(f"mailshift vs floor: {ms['seconds'] / floor['seconds']:.2f}x the floor's time (goal <= 1.5x); "
              f"peak RSS {ms['peak_rss_mib']:.1f} MiB (goal < 64)")
    elif not ms:
        print("mailshift: not available")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1G", help="size of each generated mbox (default 1G)")
    ap.add_argument("--only", choices=list(INPUTS), help="run one input only")
    ap.add_argument("--tools", help="comma-separated subset of mailshift,mb2md,mdeliver,python,floor")
    ap.add_argument("--python-mailbox", nargs=2, metavar=("SRC", "DEST"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.python_mailbox:
        python_mailbox(*a.python_mailbox)
        return
    os.makedirs(OUT, exist_ok=True)
    have_mailshift = build()
    if not drop_caches():
        log("note: cannot drop page caches (not root?); runs after the first may read from cache")
    stale = [os.path.join(OUT, d) for d in os.listdir(OUT) if d.startswith("out-")]
    if stale:
        log("removing the outputs of an earlier run (see the docstring) ...")
        quiet_fs.remove_trees(stale)
    quiet_fs.wait_until_quiet()
    want = set(a.tools.split(",")) if a.tools else None
    report = {"size": a.size, "sync_charged_to_each_tool": True, "inputs": {}}
    for profile, seed in INPUTS.items():
        if a.only and profile != a.only:
            continue
        src, meta = generate(profile, seed, a.size)
        rows = []
        for name, argv, stdin_path, prepare in tools(src, os.path.join(OUT, f"out-{profile}-{{tool}}"),
                                                     have_mailshift):
            if want and name not in want:
                continue
            dest = os.path.join(OUT, f"out-{profile}-{name}")
            argv = [x.replace("{tool}", name) for x in argv] if argv else argv
            prepare = [x.replace("{tool}", name) for x in prepare] if prepare else prepare
            if argv is None:
                rows.append({"tool": name, "ok": False, "why": f"{name}: not available"})
                continue
            log(f"{profile}: {name} ...")
            rows.append(run_one(name, argv, stdin_path, prepare, dest))
        table(profile, meta, rows)
        report["inputs"][profile] = {"file": os.path.relpath(src, ROOT), "generated": meta, "runs": rows}
    quiet_fs.remove_trees([os.path.join(OUT, d) for d in os.listdir(OUT) if d.startswith("out-")])
    with open(os.path.join(OUT, "convert.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nwritten {os.path.relpath(os.path.join(OUT, 'convert.json'), ROOT)}")


if __name__ == "__main__":
    main()
