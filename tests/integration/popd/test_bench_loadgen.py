"""bench/loadgen.py runs against the daemon and reports (issues 7 and 17). A smoke test with tiny
sizes: no figure is asserted, only that each scenario did its work and produced a complete report
(issue 17's scenarios: on distinct mailboxes, with their memory and failure accounting)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from popdrop.auth.passwords import hash_password
from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon, DaemonFactory
from tests.support import deliver

LOADGEN = Path(__file__).resolve().parents[3] / "bench" / "loadgen.py"
REPORT_FIELDS = {"units", "seconds", "server_cpu", "throughput", "cpu_per_unit", "p50", "p99"}
PATTERN = "load{}@example.test"  # distinct mailboxes, empty, with the same password


def loadgen(
    daemon: Daemon, scenario: str, *flags: str, user: str = ADDRESS, code: int = 0
) -> dict[str, object]:
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
            user,
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
    assert result.returncode == code, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    assert report.keys() >= REPORT_FIELDS
    return report


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> Daemon:
    # The load generator connects faster, and holds more sessions logging in at once, than the
    # per-address defaults allow (as bench/popdrop_instance.py's LOAD_TEST configures popd).
    running = daemon_factory(
        connection_rate=0, auth_penalty_base=0, max_unauthenticated_per_address=1000
    )
    for number in range(3):
        deliver(running.store, b"Subject: %d\r\n\r\nbody\r\n" % number, ADDRESS)
    hashed = hash_password(PASSWORD)
    for number in range(6):
        running.store.create_mailbox(PATTERN.format(number), hashed)
    return running


@pytest.mark.parametrize(
    ("scenario", "flags", "units"),
    [
        ("sessions", ["--count", "3"], 3),
        ("tls", ["--count", "2"], 2),
        ("pipelined", ["--count", "32", "--window", "16"], 32),
        ("retr", ["--count", "6", "--messages", "3", "--window", "4"], 6),
        ("greeted", ["--count", "5", "--logins", "2"], 2),
    ],
)
def test_each_scenario_does_its_work_and_reports(
    daemon: Daemon, scenario: str, flags: list[str], units: int
) -> None:
    report = loadgen(daemon, scenario, *flags)
    assert report["units"] == units
    assert report["errors"] == 0


def test_commands_read_every_reply_of_the_issue_17_mix(daemon: Daemon) -> None:
    """STAT, LIST, UIDL, NOOP on one connection per mailbox: the whole listing's replies are read
    (an empty maildrop's LIST is the terminating line alone) before the next window."""
    flags = ["--connections", "2", "--count", "64", "--window", "16"]
    report = loadgen(daemon, "commands", *flags, user=PATTERN)
    assert report["units"] == 64
    assert report["errors"] == 0
    # Per window: four +OK lines per command kind; LIST and UIDL bodies ".\r\n".
    assert report["octets"] > 0


def test_logins_go_to_distinct_mailboxes(daemon: Daemon) -> None:
    report = loadgen(daemon, "logins", "--count", "4", user=PATTERN)
    assert report["units"] == 4
    assert report["errors"] == 0


def test_held_sessions_are_logged_in_and_measured(daemon: Daemon) -> None:
    """issue 17's idle method: each held session on its own mailbox, logged in, STAT answered;
    then new logins to other mailboxes, each timed."""
    flags = ["--count", "3", "--logins", "2", "--quiet", "0"]
    report = loadgen(daemon, "held", *flags, user=PATTERN)
    extra = report["extra"]
    assert isinstance(extra, dict)
    assert extra["held"] == extra["alive"] == extra["alive_at_end"] == 3
    assert {"pss_KiB_per_session", "opened_per_s", "open_cpu_ms_per_login"} <= extra.keys()
    assert report["units"] == 2
    assert len(report["latencies"]) == 2  # type: ignore[arg-type]


def test_a_failed_open_is_counted_with_the_servers_reason(
    daemon: Daemon, atomic_dynamodb: None
) -> None:
    """Opening a held session on a maildrop already held fails with the server's -ERR line,
    counted by reason (issue 17: why sessions failed to open, not only how many). The two logins
    race for the lease: DynamoDB's per-item atomicity decides it (moto's threaded server alone
    could let both conditional writes succeed)."""
    flags = ["--count", "2", "--logins", "0", "--quiet", "0"]
    # The pattern without {}: both sessions on the same mailbox; the second finds it in use.
    report = loadgen(daemon, "held", *flags, user=PATTERN.format(0), code=1)
    assert report["errors"] == 1
    failures = report["failures"]
    assert isinstance(failures, dict)
    [(reason, count)] = failures.items()
    assert count == 1
    assert reason.startswith("-ERR [IN-USE]")


def test_retr_reports_octets_and_cpu_per_gigabyte(daemon: Daemon) -> None:
    report = loadgen(daemon, "retr", "--count", "3")
    extra = report["extra"]
    assert isinstance(extra, dict)
    assert report["octets"] and "cpu_s_per_GB" in extra and "MB_per_s" in extra


@pytest.mark.parametrize(
    ("scenario", "flags", "user"),
    [
        ("retr", ["--count", "3", "--messages", "3", "--window", "2"], ADDRESS),
        ("commands", ["--connections", "2", "--count", "32", "--window", "16"], PATTERN),
    ],
)
def test_reading_line_by_line_reads_the_same_replies(
    daemon: Daemon, scenario: str, flags: list[str], user: str
) -> None:
    """The client that parses each line (--lines) reads exactly the octets of the one that reads
    each reply whole; only its pace differs (docs/performance.md, "Two methods")."""
    whole = loadgen(daemon, scenario, *flags, user=user)
    by_line = loadgen(daemon, scenario, *flags, "--lines", user=user)
    assert by_line["errors"] == whole["errors"] == 0
    assert by_line["octets"] == whole["octets"] > 0, (whole, by_line)
