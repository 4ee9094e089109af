"""bench/report.py (issue 17): the idle table judges popdrop against the hashed Dovecot by memory
per session and by the slowest new login, and a failed open fails the login target."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from client import ProtocolError, Result  # noqa: E402
from report import held_rows, report  # noqa: E402

HASHED = "dovecot-argon2id"


def held(target: str, pss: float, logins_ms: list[float], failed: int = 0) -> Result:
    result = Result("held_2000", target, "login", units=len(logins_ms))
    result.latencies = [ms / 1e3 for ms in logins_ms]
    result.extra = {
        "held": 2000 - failed,
        "pss_KiB_per_session": pss,
        "opened_per_s": 10.0,
        "open_cpu_ms_per_login": 60.0,
        "held_cpu_pct": 5.0,
    }
    for _ in range(failed):
        result.fail(ProtocolError(b"-ERR [SYS/TEMP] storage unavailable\r\n"))
    return result


def popdrop_row(rows: list[str]) -> str:
    [row] = [row for row in rows if "| popdrop |" in row]
    return row


def test_targets_met_when_memory_and_slowest_login_are_within_the_ratios() -> None:
    rows = held_rows([held("popdrop", 50, [20, 30]), held(HASHED, 600, [10, 12])], HASHED)
    row = popdrop_row(rows)
    assert "PSS 0.0833x (met <= 0.1)" in row
    assert "slowest login 2.5x (met <= 3, no failed opens)" in row


def test_a_failed_open_fails_the_login_target_and_is_listed_with_its_reason() -> None:
    runs = [held("popdrop", 50, [20, 30], failed=1), held(HASHED, 600, [10, 12])]
    rows = held_rows(runs, HASHED)
    assert "slowest login 2.5x (NOT met <= 3, no failed opens)" in popdrop_row(rows)
    assert "| 1 of 2000 |" in popdrop_row(rows)
    assert any("1 x -ERR [SYS/TEMP] storage unavailable" in row for row in rows)


def test_memory_over_the_ratio_is_not_met() -> None:
    rows = held_rows([held("popdrop", 581, [20]), held(HASHED, 672, [10])], HASHED)
    assert "PSS 0.865x (NOT met <= 0.1)" in popdrop_row(rows)


def test_the_report_names_both_methods() -> None:
    args = argparse.Namespace(dovecot_scheme="ARGON2ID:8", delay_ms=20.0, jitter_ms=10.0)
    greeted = Result("greeted_50", "popdrop", "login", units=1, latencies=[0.01])
    greeted.extra = {"held": 50, "pss_KiB_per_session": 3.0}
    text = report([held("popdrop", 50, [20]), held(HASHED, 600, [10]), greeted], args, HASHED)
    assert "issue 17's method (the targets)" in text
    assert "the first method: connections greeted, never logged in" in text


def login(scenario: str, target: str, cpu_ms: float) -> Result:
    return Result(scenario, target, "login", units=100, seconds=10.0, server_cpu=cpu_ms / 10)


def test_each_servers_hash_cost_is_a_login_with_it_less_one_without() -> None:
    """issue 17: the password-hash cost is stated for both servers, as each pays it."""
    runs = [
        login("logins_password", "popdrop", 60.0),
        login("logins_cached", "popdrop", 11.5),
        login("logins_app", "popdrop", 14.0),
        login("logins_password", HASHED, 64.0),
        login("logins_password", "dovecot-plain", 14.0),
    ]
    args = argparse.Namespace(dovecot_scheme="ARGON2ID:7", delay_ms=20.0, jitter_ms=10.0)
    text = report(runs, args, HASHED)
    assert "popdrop's scrypt (n=2^14, r=8, p=1): 48.5 ms of CPU per login" in text
    assert "dovecot-argon2id's scheme: 50.0 ms of CPU per login" in text
    assert "| app | popdrop | 14.00" in text
