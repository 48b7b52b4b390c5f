#!/usr/bin/env python3
"""Benchmark: maildir -> IMAP (a private Dovecot) with mailshift, mbsync and
`doveadm import`, on the same generated input in the same run.

Run by `scripts/bench upload [--only dense] [--tools mbsync,doveadm]` (not in CI). Inputs are two deterministic
maildirs made by `mailshift-gen` in bench-out/ (kept between runs):
  dense      many small messages (profile "dense", 20,000 messages, ~355 MB,
             ~18 KB each like the issue's 5,940 messages in 100 MB)
  realistic  about 1,200 messages, 100 MB (profile "realistic", attachments)

Every tool gets a fresh Dovecot account: a private server started by
`mailshift-dovecot` (the test harness of mailshift_testkit::dovecot, with its
own config, TLS certificate and passwd-file user in a temp dir), stopped
after the row. Tools:
  mailshift  mailshift upload SRC imaps://alice@127.0.0.1:PORT --password-file F
             --ca-file CA --state S   (includes its proof: the folder-by-folder
             comparison with the server after the upload)
  mailshift-plain  the same over imap:// without TLS (--insecure-plaintext):
             shows what Dovecot's TLS relay (imap-login) costs
  mbsync     isync's mbsync, Sync Push into the IMAPS port, default settings
             (CopyArrivalDate no: the arrival dates are not kept)
  mbsync-ad  the same with CopyArrivalDate yes
  mbsync-nf  (only with --tools) default settings but FSync no: without
             mbsync's own fsync of its sync state after every message
  doveadm    doveadm -c <private config> import -u alice maildir:SRC "" all:
             Dovecot copying into its own storage, no IMAP, no TLS: the
             near-physical limit.

Every tool is timed until it exits. The server runs with `mail_fsync =
never` unless --fsync: with Dovecot's default every APPEND costs a few
fsyncs, and on a disk where one takes ~3.5 ms (this VM) that latency, the
same for every tool that appends one message per transaction, hides the
tools' own cost (mbsync: ~20 s instead of ~2 s for 1,100 messages). No global
`sync` is charged either (it would bill other processes' dirty pages).
Each row's server mailbox is moved to bench-out/upload-kept/ rather than
deleted, and that folder is removed at the end of the run; a run starts only
361 s after the last bulk delete (benches/quiet_fs.py): this VM's ext4 has no
journal, and for up to six minutes after many files are deleted its inode
allocator scans past their inodes (`recently_deleted`), which made whichever
tool ran next pay ~20% of its server's CPU for the previous row's cleanup
(and one realistic upload take 2.7 s instead of 1.5 s, for every tool).
Peak RSS is GNU time's %M for the tool's process (Dovecot's own processes are
not counted for any tool). After each run scripts/imap_check.py (Python's
imaplib, no shared code) reads the server back: the number of messages in
INBOX and whether every INTERNALDATE equals a source file's mtime (the
maildir's received date) — compared as multisets of Unix seconds.

Goals (issue #6): faster than mbsync on both inputs (1.5x on the dense one),
within 1.5x of doveadm import, every INTERNALDATE kept, peak RSS bounded.
Writes a table on stdout and bench-out/upload.json.
"""

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import quiet_fs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
REL = os.path.join(ROOT, "target", "release")
GEN = os.path.join(REL, "mailshift-gen")
# Only starts a server: the newest build of it will do.
DOVECOT = max((os.path.join(ROOT, "target", d, "mailshift-dovecot") for d in ("release", "debug")),
              key=lambda p: os.path.getmtime(p) if os.path.exists(p) else 0)
MAILSHIFT = os.path.join(REL, "mailshift")
# --baseline BIN: another mailshift build (say, before a change), run as the
# row "baseline" on the same inputs and servers, for before/after figures.
BASELINE = None
CHECK = os.path.join(ROOT, "scripts", "imap_check.py")
# name -> (profile, seed, mailshift-gen amount arguments)
INPUTS = {
    # "dense", not "small": the message-dense example is 5,940
    # messages in 100 MB (about 17 KB each), and dense averages about 18 KB
    # while small makes 1-2 KB messages. (small used to be unusable here
    # too: its received dates ran into the future after ~20,000 messages;
    # the generator now keeps them in the past.)
    "dense": ("dense", 2, ["--count", "20000"]),
    "realistic": ("realistic", 1, ["--size", "100M"]),
}
TOOLS = ["mailshift", "mailshift-plain", "mbsync", "mbsync-ad", "doveadm"]
GOAL_VS_MBSYNC = {"dense": 1.5, "realistic": 1.0}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift-testkit", "--bins"], cwd=ROOT, check=True)
    r = subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailshift"], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        log("mailshift does not build:\n" + r.stderr[-2000:])
        return False
    h = subprocess.run([MAILSHIFT, "upload", "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return h.returncode == 0


def generate(name):
    profile, seed, amount = INPUTS[name]
    path = os.path.join(OUT, f"upload-{name}-{profile}-{'-'.join(a.strip('-') for a in amount)}")
    meta = path + ".json"
    if not (os.path.isdir(path) and os.path.exists(meta)):
        shutil.rmtree(path, ignore_errors=True)
        log(f"generating {path} ...")
        r = subprocess.run([GEN, "maildir", path + ".partial", "--profile", profile, "--seed", str(seed)] + amount,
                           check=True, stdout=subprocess.PIPE, text=True)
        os.replace(path + ".partial", path)
        with open(meta, "w") as f:
            f.write(r.stdout)
    with open(meta) as f:
        info = json.load(f)
    mtimes, size = [], 0
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        for e in os.scandir(d):
            st = e.stat()
            mtimes.append(int(st.st_mtime))
            size += st.st_size
    info["files"] = len(mtimes)
    info["file_bytes"] = size
    return path, info, collections.Counter(mtimes)


class Server:
    """A fresh private Dovecot (mailshift-dovecot) for one row."""

    extra = []

    def __enter__(self):
        self.p = subprocess.Popen([DOVECOT] + self.extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("mailshift-dovecot did not start")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc):
        self.p.stdin.close()
        self.p.wait(timeout=600)  # removing a big maildir takes a while


def mbsyncrc(info, src, state, arrival, fsync=True):
    return f"""FSync {"yes" if fsync else "no"}

IMAPAccount dst
Host localhost
Port {info['imaps_port']}
User {info['user']}
PassCmd "cat {info['password_file']}"
SSLType IMAPS
CertificateFile {info['ca_cert']}
AuthMechs PLAIN

IMAPStore far
Account dst

MaildirStore near
Path {src}/
Inbox {src}

Channel push
Far :far:
Near :near:
Patterns INBOX
Sync Push
Create Far
Expunge None
SyncState {state}/
CopyArrivalDate {"yes" if arrival else "no"}
"""


def command(tool, info, src, work, have_mailshift):
    """argv for one tool, or None when it is not available."""
    if tool in ("mailshift", "baseline", "mailshift-plain"):
        binary = BASELINE if tool == "baseline" else MAILSHIFT
        if not binary or (tool != "baseline" and not have_mailshift):
            return None
        common = ["--password-file", info["password_file"], "--state", os.path.join(work, "state.sqlite"),
                  "--report", os.path.join(work, "report.json")]
        if tool == "mailshift-plain":
            # Without TLS: Dovecot then hands the connection to the imap
            # process instead of relaying it through imap-login's TLS proxy.
            return [binary, "upload", src, f"imap://{info['user']}@127.0.0.1:{info['imap_port']}",
                    "--insecure-plaintext"] + common
        return [binary, "upload", src, f"imaps://{info['user']}@127.0.0.1:{info['imaps_port']}",
                "--ca-file", info["ca_cert"]] + common
    if tool in ("mbsync", "mbsync-ad", "mbsync-nf"):
        if not shutil.which("mbsync"):
            return None
        # mbsync renames the files it syncs (,U=): give it a hard-linked copy.
        copy = os.path.join(work, "src")
        subprocess.run(["cp", "-al", src, copy], check=True)
        os.makedirs(os.path.join(work, "state"))
        rc = os.path.join(work, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(mbsyncrc(info, copy, os.path.join(work, "state"), tool == "mbsync-ad", tool != "mbsync-nf"))
        return ["mbsync", "-c", rc, "-q", "push"]
    if tool == "doveadm":
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        # Dovecot keeps its index and uidlist for the source in a scratch
        # dir the mail user can write, never in the source itself.
        ctl = os.path.join(work, "ctl")
        os.makedirs(ctl)
        os.chmod(work, 0o755)
        os.chmod(ctl, 0o777)
        return [doveadm, "-c", info["config"], "import", "-u", info["user"],
                f"maildir:{src}:INDEX=MEMORY:CONTROL={ctl}", "", "all"]
    raise ValueError(tool)


def check(info):
    r = subprocess.run([sys.executable, CHECK, "127.0.0.1", str(info["imaps_port"]), info["user"],
                        "--password-file", info["password_file"], "--ssl", "--cafile", info["ca_cert"], "--no-body"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None, r.stderr[-500:]
    return json.loads(r.stdout), ""


KEPT = os.path.join(OUT, "upload-kept")


def keep_mailbox(info, row_name):
    """Moves the row's server mailbox aside instead of letting the server's
    clean-up delete it (see the module doc: deleting costs the next row)."""
    os.makedirs(KEPT, exist_ok=True)
    try:
        os.rename(info["mail_root"], os.path.join(KEPT, row_name))
    except OSError as e:
        log(f"  (could not keep {info['mail_root']}: {e}; it is deleted with the server)")


def clear_kept():
    """Removes what a previous (crashed) run kept, then waits until new
    inodes are cheap again (benches/quiet_fs.py)."""
    quiet_fs.remove_trees([KEPT])
    quiet_fs.wait_until_quiet()


def run_one(tool, src, src_mtimes, have_mailshift, row_name):
    with Server() as srv, tempfile.TemporaryDirectory(prefix="upload-bench-") as work:
        argv = command(tool, srv.info, src, work, have_mailshift)
        if argv is None:
            return {"tool": tool, "ok": False, "why": f"{tool}: not available"}
        os.sync()
        rss_file = os.path.join(work, "rss")
        timed = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv if os.access("/usr/bin/time", os.X_OK) else argv
        t0 = time.monotonic()
        p = subprocess.Popen(timed, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _pid, status, ru = os.wait4(p.pid, 0)
        secs = time.monotonic() - t0
        code = os.waitstatus_to_exitcode(status)
        rss_kib = ru.ru_maxrss
        try:
            with open(rss_file) as f:
                rss_kib = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
        row = {"tool": tool, "ok": code == 0, "exit": code, "seconds": secs, "peak_rss_mib": rss_kib / 1024,
               "command": " ".join(argv), "stderr": err.decode("utf-8", "replace")[-800:] if code != 0 else ""}
        server, why = check(srv.info)
        keep_mailbox(srv.info, row_name)
        if server is None:
            row["check_error"] = why
            return row
        inbox = server["messages"].get("INBOX", [])
        row["on_server"] = len(inbox)
        dates = collections.Counter(m["internaldate_unix"] for m in inbox)
        row["dates_kept"] = sum((dates & src_mtimes).values())
        if tool in ("mailshift", "baseline", "mailshift-plain") and code != 0:
            row["ok"] = False
        return row


def table(name, info, rows):
    msgs, size = info["files"], info["file_bytes"]
    ms = next((r for r in rows if r["tool"] == "mailshift" and r.get("ok")), None)
    print(f"\n{name}: {msgs} messages, {size / 1e6:.0f} MB (Dovecot: {'fsync' if not Server.extra else 'mail_fsync = never'})")
    print(f"{'tool':<15} {'seconds':>8} {'msg/s':>8} {'MB/s':>7} {'RSS MiB':>8} {'on server':>9} "
          f"{'dates kept':>11} {'vs mailshift':>13}")
    for r in rows:
        if "seconds" not in r:
            print(f"{r['tool']:<15} {r.get('why', 'not run')}")
            continue
        s = r["seconds"]
        r["messages_per_s"], r["mb_per_s"] = msgs / s, size / 1e6 / s
        ratio = f"{s / ms['seconds']:.2f}x" if ms else "-"
        kept = r.get("dates_kept")
        status = "" if r["ok"] else f"  FAILED exit {r['exit']}: {r['stderr'].strip()[-300:]}"
        print(f"{r['tool']:<15} {s:8.2f} {msgs / s:8.0f} {size / 1e6 / s:7.1f} {r['peak_rss_mib']:8.1f} "
              f"{r.get('on_server', '?'):>9} {(str(kept) + '/' + str(msgs)) if kept is not None else '?':>11} "
              f"{ratio:>13}{status}")
    byname = {r["tool"]: r for r in rows if r.get("ok")}
    if ms is None:
        if any(r["tool"] == "mailshift" for r in rows):
            print("mailshift upload: not available")
        return
    plain = byname.get("mailshift-plain")
    if plain and byname.get("doveadm"):
        print(f"mailshift without TLS vs doveadm import: {plain['seconds'] / byname['doveadm']['seconds']:.2f}x its time "
              "(what the TLS relay through imap-login costs is the difference to the line below)")
    for other, goal in (("mbsync", GOAL_VS_MBSYNC[name]), ("mbsync-ad", GOAL_VS_MBSYNC[name]), ("doveadm", None),
                        ("baseline", 0)):
        o = byname.get(other)
        if not o:
            continue
        if other == "baseline":
            print(f"mailshift vs baseline ({BASELINE}): {o['seconds'] / ms['seconds']:.2f}x faster")
        elif goal is not None:
            print(f"mailshift vs {other}: {o['seconds'] / ms['seconds']:.2f}x faster (goal > {goal}x)")
        else:
            print(f"mailshift vs doveadm import: {ms['seconds'] / o['seconds']:.2f}x its time (goal <= 1.5x)")
    print(f"mailshift: INTERNALDATE kept for {ms.get('dates_kept')}/{msgs}; peak RSS {ms['peak_rss_mib']:.1f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=list(INPUTS), help="run one input only")
    ap.add_argument("--tools", help="comma-separated subset of " + ",".join(TOOLS) + " (and mbsync-nf)")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries already in target/")
    ap.add_argument("--baseline", metavar="BIN",
                    help="also run this mailshift binary (row 'baseline'), e.g. a copy made before a change")
    ap.add_argument("--fsync", action="store_true",
                    help="keep Dovecot's fsyncs (mail_fsync = optimized): then the disk's fsync latency dominates")
    a = ap.parse_args()
    global BASELINE
    if a.baseline:
        BASELINE = os.path.abspath(a.baseline)
    if not a.fsync:
        Server.extra = ["--extra-config", "mail_fsync = never"]
    os.makedirs(OUT, exist_ok=True)
    if a.no_build:
        have_mailshift = os.access(MAILSHIFT, os.X_OK) and subprocess.run(
            [MAILSHIFT, "upload", "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    else:
        have_mailshift = build()
    if not have_mailshift:
        log("mailshift upload: not available (the other rows still run)")
    want = a.tools.split(",") if a.tools else list(TOOLS)
    if BASELINE and "baseline" not in want:
        want.insert(want.index("mailshift") + 1 if "mailshift" in want else 0, "baseline")
    clear_kept()
    report = {"sync_charged_to_each_tool": False, "dovecot_extra": Server.extra, "inputs": {}}
    for name in INPUTS:
        if a.only and name != a.only:
            continue
        src, info, mtimes = generate(name)
        rows = []
        for tool in want:
            log(f"{name}: {tool} ...")
            rows.append(run_one(tool, src, mtimes, have_mailshift, f"{name}-{tool}"))
            r = rows[-1]
            log(f"  {r.get('seconds', 0):.2f} s, ok={r.get('ok')}, on server {r.get('on_server')}, "
                f"dates kept {r.get('dates_kept')}")
        table(name, info, rows)
        report["inputs"][name] = {"dir": os.path.relpath(src, ROOT), "generated": info, "runs": rows}
    with open(os.path.join(OUT, "upload.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nwritten {os.path.relpath(os.path.join(OUT, 'upload.json'), ROOT)}")
    # The servers' mailboxes go now; the next run waits for the disk.
    quiet_fs.remove_trees([KEPT])


if __name__ == "__main__":
    main()
