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

mailshift does more in each: it hashes every message (BLAKE3, twice: raw
and CRLF-normalised), writes the manifest and the whole-file hash, checks
every entry on verify and fsyncs on backup and restore. The harness runs
`sync` after every command and charges it to that command, so a tool that
leaves its output in the page cache pays for writing it. The source is read
from a warm page cache (one untimed read first): what is measured is the
tools, not the disk. Peak RSS is GNU time's %M (for a pipeline, its largest
process).

Goals (issue #5): backup and verify at least 0.9x the throughput of the
standard tools; restore faster than `zstd -dc | tar -x`; peak RSS bounded.
Writes a table on stdout and bench-out/backup.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
GEN = os.path.join(ROOT, "target", "release", "mailshift-gen")
MAILSHIFT = os.environ.get("MAILSHIFT_BIN") or os.path.join(ROOT, "target", "release", "mailshift")


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


def run(argv, shell=False):
    rss_file = os.path.join(OUT, "time.rss")
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
            "command": argv if shell else " ".join(argv), "stderr": err[-400:] if p.returncode else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1G", help="size of the generated maildir (default 1G)")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if not a.no_build:
        build()
    src, meta = generate(a.size)
    size = meta.get("bytes") or meta.get("message_bytes")
    msgs = meta.get("messages")
    work = os.path.join(OUT, "backup-work")
    if os.path.exists(work):
        shutil.rmtree(work, ignore_errors=True)
        log("removed an earlier run's work directory; waiting 61 s for the inode scan to pass")
        time.sleep(61)
    os.makedirs(work)
    ref = os.path.join(work, "ref.tar.zst")
    ours_dir = os.path.join(work, "ours")
    ours = os.path.join(ours_dir, "bench.tar.zst")
    parent, base = os.path.split(src)
    warm(src)
    rows = []

    def pair(op, theirs, mine, prep=None):
        for who, cmd, shell in (("tar+zstd", theirs, True), ("mailshift", mine, False)):
            if prep:
                prep()
            log(f"{op}: {who} ...")
            r = run(cmd, shell=shell)
            r.update(op=op, tool=who)
            rows.append(r)
            if not r["ok"]:
                log(f"  failed: {r['stderr']}")

    pair("backup", f"tar -cf - -C '{parent}' '{base}' | zstd -q -T0 -3 -o '{ref}'",
         [MAILSHIFT, "backup", src, "--to", ours_dir, "--name", "bench", "--level", "3"])
    pair("verify", f"zstd -dc '{ref}' | tar -tf - > /dev/null", [MAILSHIFT, "verify", ours])
    dest_theirs = os.path.join(work, "x-theirs")
    dest_ours = os.path.join(work, "x-ours")

    def clean():
        # A restore right after deleting the previous one's 1 GiB would pay
        # ext4's recently-deleted-inode scan (see benches/convert.py), so
        # each restore starts after that minute has passed, for both tools.
        removed = False
        for d in (dest_theirs, dest_ours):
            removed |= os.path.exists(d)
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(dest_theirs)
        if removed:
            log("  (removed the previous restore; waiting 61 s for the inode scan to pass)")
            time.sleep(61)

    pair("restore", f"zstd -dc '{ref}' | tar -xf - -C '{dest_theirs}'", [MAILSHIFT, "restore", ours, dest_ours],
         prep=clean)
    sizes = {"tar+zstd": os.path.getsize(ref) if os.path.exists(ref) else None,
             "mailshift": os.path.getsize(ours) if os.path.exists(ours) else None}
    ops = ["backup", "verify", "restore"]
    if shutil.which("age") and shutil.which("age-keygen"):
        key = os.path.join(work, "key.txt")
        subprocess.run(["age-keygen", "-o", key], check=True, stderr=subprocess.DEVNULL)
        rcpt = subprocess.run(["age-keygen", "-y", key], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
        ref_age = ref + ".age"
        ours_age = os.path.join(ours_dir, "bencha.tar.zst.age")
        pair("backup-age", f"tar -cf - -C '{parent}' '{base}' | zstd -q -T0 -3 | age -r {rcpt} -o '{ref_age}'",
             [MAILSHIFT, "backup", src, "--to", ours_dir, "--name", "bencha", "--level", "3", "--encrypt-to", rcpt])
        pair("verify-age", f"age -d -i '{key}' '{ref_age}' | zstd -dc | tar -tf - > /dev/null",
             [MAILSHIFT, "verify", ours_age, "--identity", key])
        pair("restore-age", f"age -d -i '{key}' '{ref_age}' | zstd -dc | tar -xf - -C '{dest_theirs}'",
             [MAILSHIFT, "restore", ours_age, dest_ours, "--identity", key], prep=clean)
        ops += ["backup-age", "verify-age", "restore-age"]
    else:
        log("age not installed: the encrypted pairs are left out")

    print(f"\n{msgs} messages, {size / 2**20:.0f} MiB maildir (zstd level 3, all cores; times include a final sync)")
    print(f"archive size: tar+zstd {sizes['tar+zstd']}, mailshift {sizes['mailshift']} bytes")
    print(f"{'op':<8} {'tool':<10} {'seconds':>8} {'MB/s':>8} {'RSS MiB':>8} {'CPU s':>7} {'throughput vs tar+zstd':>24}"
          f" {'CPU vs tar+zstd':>16}")
    for op in ops:
        them = next((r for r in rows if r["op"] == op and r["tool"] == "tar+zstd"), None)
        for r in (x for x in rows if x["op"] == op):
            if not r["ok"]:
                print(f"{op:<8} {r['tool']:<10} failed (exit {r['exit']}): {r['stderr'].strip()[:200]}")
                continue
            r["mb_per_s"] = size / 1e6 / r["seconds"]
            ratio = them["seconds"] / r["seconds"] if them and them["ok"] else None
            r["throughput_ratio"] = ratio
            rss = f"{r['peak_rss_mib']:.1f}" if r["peak_rss_mib"] is not None else "-"
            shown = f"{ratio:.2f}x" if ratio else "-"
            cpu = f"{r['cpu_seconds']:.2f}" if r["cpu_seconds"] is not None else "-"
            cpu_ratio = (r["cpu_seconds"] / them["cpu_seconds"]
                         if them and them.get("cpu_seconds") and r["cpu_seconds"] is not None else None)
            r["cpu_ratio"] = cpu_ratio
            cshown = f"{cpu_ratio:.2f}x" if cpu_ratio else "-"
            print(f"{op:<8} {r['tool']:<10} {r['seconds']:8.2f} {r['mb_per_s']:8.1f} {rss:>8} {cpu:>7} {shown:>24}"
                  f" {cshown:>16}")
    goals = {"backup": 0.9, "verify": 0.9, "restore": 1.0}
    for op, goal in goals.items():
        r = next((x for x in rows if x["op"] == op and x["tool"] == "mailshift" and x["ok"]), None)
        if r and r.get("throughput_ratio"):
            met = "met" if r["throughput_ratio"] >= goal else "NOT met"
            print(f"goal {op}: >= {goal}x tar+zstd throughput: {r['throughput_ratio']:.2f}x ({met})")
    with open(os.path.join(OUT, "backup.json"), "w") as f:
        json.dump({"size": a.size, "generated": meta, "archive_bytes": sizes, "runs": rows}, f, indent=2)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work on the machine slows both tools, not equally: compare CPU seconds too)")
    print(f"\nwritten {os.path.relpath(os.path.join(OUT, 'backup.json'), ROOT)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
