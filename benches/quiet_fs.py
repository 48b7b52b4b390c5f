"""Deleting many files makes this VM's disk slow to create new ones for minutes.

Its ext4 has no journal. Then, when it allocates an inode, the kernel skips
every inode freed recently, one at a time (`recently_deleted`): for 60 s
after the delete, and for 360 s where the inode's table block has been
written again since (by new files, which a benchmark makes). A benchmark
that removes a big tree and then times a tool that creates files measures
that scan, not the tool. So the benches delete their outputs only at the end
of a run (or before the first timing, for what a crashed run left), record
when in bench-out/.last-mass-delete, and wait until 361 s have passed since
before they time anything.
"""

import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAMP = os.path.join(ROOT, "bench-out", ".last-mass-delete")
QUIET_AFTER = 361.0


def remove_trees(paths):
    """Removes `paths`, syncs, and records the time (if anything was removed)."""
    removed = False
    for p in paths:
        if os.path.lexists(p):
            shutil.rmtree(p, ignore_errors=True)
            removed = True
    if removed:
        os.sync()
        os.makedirs(os.path.dirname(STAMP), exist_ok=True)
        with open(STAMP, "w") as f:
            f.write(f"{time.time()}\n")


def wait_until_quiet():
    """Sleeps until QUIET_AFTER seconds have passed since the last removal."""
    try:
        with open(STAMP) as f:
            then = float(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    left = then + QUIET_AFTER - time.time()
    if left > 0:
        print(f"waiting {left:.0f} s: files were deleted in bulk {QUIET_AFTER - left:.0f} s ago, and new "
              "inodes are slow on this disk until 361 s after that (see benches/quiet_fs.py)",
              file=sys.stderr, flush=True)
        time.sleep(left)
