"""bench/dev_fill.py (issue 13), scaled down: it fills `popdrop dev`, prints a figure for each tenth
and the verdict lines, and finds every message again after restarting the stack."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"


def test_a_small_fill_prints_each_tenth_and_keeps_every_message_across_a_restart() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH / "dev_fill.py"), "--messages", "30", "--connections", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    tenths = [line for line in run.stdout.splitlines() if re.match(r"\s+\d+\s+\d+\s", line)]
    assert len(tenths) == 10
    assert tenths[-1].split()[1] == "30"
    assert re.search(r"last tenth / first tenth: \d+\.\d\dx", run.stdout)
    assert re.search(r"peak resident: \d+ MiB", run.stdout)
    assert "messages before 30, after 30" in run.stdout
