"""bench/probe.py (issue 17): a server's CPU and PSS are those of its whole process tree, read from
/proc, including children it has already reaped (Dovecot's short-lived login processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from probe import ServerProbe, descendants  # noqa: E402

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_the_tree_holds_every_process_below_the_root() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run(['sleep', '30'])"]
    )
    try:
        for _ in range(200):  # the grandchild appears once the child has started it
            tree = descendants(parent.pid)
            if len(tree) == 2:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert tree[0] == parent.pid
        assert len(tree) == 2
        probe = ServerProbe(parent.pid, tree=True)
        assert probe.processes() == 2
        assert probe.pss_kib() > ServerProbe(parent.pid).pss_kib() > 0
    finally:
        for pid in reversed(descendants(parent.pid)):
            os.kill(pid, 9)
        parent.wait()


def test_cpu_of_the_tree_counts_children_already_reaped() -> None:
    """A child that burned 0.3 s of CPU and was waited for still counts in its parent's tree."""
    probe = ServerProbe(os.getpid(), tree=True)
    alone = ServerProbe(os.getpid())
    tree_before, alone_before = probe.cpu_seconds(), alone.cpu_seconds()
    subprocess.run([sys.executable, "-c", BURN], check=True)
    assert probe.cpu_seconds() - tree_before >= 0.25
    assert alone.cpu_seconds() - alone_before < 0.25
