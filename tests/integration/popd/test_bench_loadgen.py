"""bench/loadgen.py runs against the daemon and reports (issue 7). A smoke test with tiny sizes:
no figure is asserted, only that each scenario did its work and produced a complete report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon, DaemonFactory
from tests.support import deliver

LOADGEN = Path(__file__).resolve().parents[3] / "bench" / "loadgen.py"
REPORT_FIELDS = {"units", "seconds", "server_cpu", "throughput", "cpu_per_unit", "p50", "p99"}


def loadgen(daemon: Daemon, scenario: str, *flags: str) -> dict[str, object]:
    endpoints = daemon.endpoints
    result = subprocess.run(
        [
            sys.executable,
            str(LOADGEN),
            scenario,
            "--port",
            str(endpoints.pop3_port),
            "--tls-port",
            str(endpoints.pop3s_port),
            "--user",
            ADDRESS,
            "--password",
            PASSWORD,
            "--pid",
            str(os.getpid()),  # the daemon runs in a thread of this process
            "--deadline",
            "10",
            "--json",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    assert report.keys() >= REPORT_FIELDS
    assert report["errors"] == 0
    return report


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> Daemon:
    # The load generator connects faster than the default per-address rate allows.
    running = daemon_factory(connection_rate=0)
    for number in range(3):
        deliver(running.store, b"Subject: %d\r\n\r\nbody\r\n" % number, ADDRESS)
    return running


@pytest.mark.parametrize(
    ("scenario", "flags", "units"),
    [
        ("sessions", ["--count", "3"], 3),
        ("tls", ["--count", "2"], 2),
        ("pipelined", ["--count", "32", "--window", "16"], 32),
        ("retr", ["--count", "6", "--messages", "3", "--window", "4"], 6),
        ("idle", ["--count", "5", "--logins", "2"], 2),
    ],
)
def test_each_scenario_does_its_work_and_reports(
    daemon: Daemon, scenario: str, flags: list[str], units: int
) -> None:
    assert loadgen(daemon, scenario, *flags)["units"] == units


def test_retr_reports_octets_and_cpu_per_gigabyte(daemon: Daemon) -> None:
    report = loadgen(daemon, "retr", "--count", "3")
    extra = report["extra"]
    assert isinstance(extra, dict)
    assert report["octets"] and "cpu_s_per_GB" in extra and "MB_per_s" in extra
