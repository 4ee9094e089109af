"""`make bench`'s tables: medians over rounds, ratios popdrop/Dovecot, and the targets.

Two methods, reported apart (docs/performance.md, "Two methods"): issue 17's, which the targets
are judged on (authenticated idle sessions on distinct mailboxes, new logins while they are held,
STAT/LIST/UIDL/NOOP windows on four connections, large RETR, logins per CPU-second), and the first
method's scenarios, kept for what they still measure (CPU per session without a password hash,
single-line pipelined commands, small RETR, connections greeted and never logged in, S3 latency).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from collections.abc import Callable, Sequence

from client import Result

PLAIN = "dovecot-plain"  # Dovecot with a plain-text passwd-file: no hash per login


@dataclasses.dataclass(frozen=True, slots=True)
class Metric:
    """One figure of a scenario, read from a Result, and the target ratio popdrop/Dovecot."""

    scenario: str
    label: str
    read: Callable[[Result], float]
    goal: float | None = None  # the ratio popdrop/Dovecot must not exceed


def cpu_per(scale: float) -> Callable[[Result], float]:
    return lambda result: result.cpu_per_unit * scale


def extra(key: str) -> Callable[[Result], float]:
    return lambda result: result.extra[key]


# The first method's table: popdrop against Dovecot with plain-text passwords, twice (the noise).
FIRST = [
    Metric("sessions", "server CPU ms per session, no password hash", cpu_per(1e3), 2.0),
    Metric("sessions", "sessions/s", lambda r: r.throughput),
    Metric("sessions", "latency p99 ms", lambda r: r.quantile(0.99) * 1e3),
    Metric("tls_sessions", "server CPU ms per TLS session", cpu_per(1e3)),
    Metric("tls_sessions", "latency p99 ms", lambda r: r.quantile(0.99) * 1e3),
    Metric("pipelined", "server CPU us per command (NOOP, STAT, LIST 1, UIDL 1)", cpu_per(1e6)),
    Metric("pipelined", "commands/s", lambda r: r.throughput),
]
# issue 17's per-command and per-GB figures (the same Dovecot; its password scheme plays no part).
SECOND = [
    Metric("commands", "server CPU us per command (STAT, LIST, UIDL, NOOP)", cpu_per(1e6), 1.2),
    Metric("commands", "commands/s", lambda r: r.throughput),
    Metric("commands", "window latency p99 ms", lambda r: r.quantile(0.99) * 1e3),
]
for _size in ("small", "large"):
    for _window in (1, 16):
        _name = f"retr_{_size}_w{_window}"
        _goal = 0.8 if _name == "retr_large_w1" else None
        _retr = [
            Metric(_name, "server CPU s per GB", extra("cpu_s_per_GB"), _goal),
            Metric(_name, "MB/s", extra("MB_per_s")),
            Metric(_name, "message latency p50 ms", lambda r: r.quantile(0.5) * 1e3),
        ]
        (SECOND if _size == "large" else FIRST).extend(_retr)


def median_of(
    results: Sequence[Result], scenario: str, target: str, read: Callable[[Result], float]
) -> float:
    values = [read(r) for r in results if r.scenario == scenario and r.target == target and r.units]
    return statistics.median(values) if values else float("nan")


def spread(
    results: Sequence[Result], scenario: str, target: str, read: Callable[[Result], float]
) -> str:
    values = [read(r) for r in results if r.scenario == scenario and r.target == target and r.units]
    if len(values) < 2:
        return ""
    return f"{min(values):.3g}-{max(values):.3g}"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def goal_text(ratio: float, goal: float | None) -> str:
    return "" if goal is None else f"<= {goal}: {verdict(ratio <= goal)}"


def comparison(results: Sequence[Result], metrics: Sequence[Metric], peer: str) -> list[str]:
    """popdrop against `peer` and `peer`-b (the same server measured again: the noise band)."""
    rows = [
        "| scenario | figure | popdrop | Dovecot | popdrop/Dovecot | Dovecot/Dovecot | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric in metrics:
        ours = median_of(results, metric.scenario, "popdrop", metric.read)
        theirs = median_of(results, metric.scenario, peer, metric.read)
        again = median_of(results, metric.scenario, f"{peer}-b", metric.read)
        if theirs != theirs:  # the scenario was not run
            continue
        ratio = ours / theirs if theirs else float("nan")
        rows.append(
            f"| {metric.scenario} | {metric.label} | {ours:.4g} | {theirs:.4g} | {ratio:.3g} "
            f"| {theirs / again if again else float('nan'):.3g} | {goal_text(ratio, metric.goal)} |"
        )
    return rows if len(rows) > 2 else []


def held_rows(results: Sequence[Result], hashed: str) -> list[str]:
    """Authenticated idle sessions (issue 17's method): per count held, per server, medians over
    the rounds (min-max in brackets when there were several)."""
    counts = sorted({r.scenario for r in results if r.scenario.startswith("held_")}, key=_count)
    if not counts:
        return []
    rows = [
        "| sessions held | server | rounds | PSS KiB per session | PSS peak while opening MiB "
        "| new login p50 ms "
        "| slowest new login ms | failed opens | opens over 10 s / 30 s | opened per s "
        "| server CPU ms per login | CPU while held, % of a core (storage host) | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in counts:
        targets = dict.fromkeys(r.target for r in results if r.scenario == scenario)
        figures = {t: _held_figures(results, scenario, t) for t in targets}
        for target in targets:
            runs = [r for r in results if r.scenario == scenario and r.target == target]
            own = figures[target]
            goals = []
            if target == "popdrop" and hashed in figures:
                peer = figures[hashed]
                memory = own["pss"] / peer["pss"]
                slowest = own["slowest"] / peer["slowest"]
                goals.append(f"PSS {memory:.3g}x ({verdict(memory <= 0.1)} <= 0.1)")
                goals.append(
                    f"slowest login {slowest:.3g}x ({verdict(slowest <= 3 and not own['failed'])}"
                    " <= 3, no failed opens)"
                )
            storage = f" ({own['storage']:.0f})" if own["storage"] == own["storage"] else ""
            rows.append(
                f"| {scenario.removeprefix('held_')} | {target} | {len(runs)} "
                f"| {own['pss']:.0f} {_range(runs, 'pss_KiB_per_session')} | {own['peak']:.0f} "
                f"| {own['p50']:.1f} | {own['slowest']:.1f} | {own['failed']:.0f} of "
                f"{own['tried']:.0f} | {own['over10']:.0f} / {own['over30']:.0f} "
                f"| {own['rate']:.1f} | {own['cpu']:.1f} "
                f"| {own['held_cpu']:.1f}{storage} | {'; '.join(goals)} |"
            )
    rows += ["", "Each new login while they were held (ms, from connect to the STAT reply):", ""]
    for result in results:
        if result.scenario.startswith("held_"):
            times = " ".join(f"{value * 1e3:.0f}" for value in result.latencies)
            failures = "; ".join(f"{n} x {text}" for text, n in result.failures.items())
            rows.append(
                f"- {result.scenario} {result.target}: {times}"
                + (f" (failed opens: {failures})" if failures else "")
            )
    return rows


def _count(scenario: str) -> int:
    return int(scenario.rpartition("_")[2])


def _held_figures(results: Sequence[Result], scenario: str, target: str) -> dict[str, float]:
    runs = [r for r in results if r.scenario == scenario and r.target == target]

    def med(read: Callable[[Result], float]) -> float:
        values = [read(r) for r in runs]
        return statistics.median(values) if values else float("nan")

    return {
        "pss": med(extra("pss_KiB_per_session")),
        "peak": med(lambda r: r.extra.get("pss_peak_MiB", float("nan"))),
        "p50": med(lambda r: r.quantile(0.5) * 1e3),
        "slowest": med(lambda r: max(r.latencies, default=float("nan")) * 1e3),
        "failed": sum(r.errors for r in runs),
        "tried": sum(r.extra["held"] + r.errors + r.extra.get("not_tried", 0) for r in runs),
        "over10": med(lambda r: r.extra.get("opens_over_10s", 0)),
        "over30": med(lambda r: r.extra.get("opens_over_30s", 0)),
        "rate": med(extra("opened_per_s")),
        "cpu": med(extra("open_cpu_ms_per_login")),
        "held_cpu": med(extra("held_cpu_pct")),
        "storage": med(lambda r: r.extra.get("storage_cpu_pct", float("nan"))),
    }


def _range(runs: Sequence[Result], key: str) -> str:
    values = [r.extra[key] for r in runs]
    return f"({min(values):.0f}-{max(values):.0f})" if len(values) > 1 else ""


def login_rows(results: Sequence[Result]) -> list[str]:
    """Logins per CPU-second, distinct mailboxes, by password path."""
    scenarios = dict.fromkeys(
        (r.scenario, r.target) for r in results if r.scenario.startswith("logins_")
    )
    if not scenarios:
        return []
    rows = [
        "| logins (distinct mailboxes) | server | server CPU ms per login | logins per CPU-second "
        "| logins/s | latency p50 ms | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario, target in scenarios:
        cpu = median_of(results, scenario, target, cpu_per(1e3))
        rate = median_of(results, scenario, target, lambda r: r.throughput)
        p50 = median_of(results, scenario, target, lambda r: r.quantile(0.5) * 1e3)
        failed = sum(r.errors for r in results if r.scenario == scenario and r.target == target)
        rows.append(
            f"| {scenario.removeprefix('logins_')} | {target} | {cpu:.2f} "
            f"{spread(results, scenario, target, cpu_per(1e3))} | {1e3 / cpu:.0f} "
            f"| {rate:.1f} | {p50:.1f} | {failed} |"
        )
    return [*rows, "", *hash_costs(results)]


def hash_costs(results: Sequence[Result]) -> list[str]:
    """What one password verification costs each server: a login with the hash less one without
    (popdrop: the verified-credentials cache; Dovecot: its plain-text passwd-file)."""

    def cpu(scenario: str, target: str) -> float:
        return median_of(results, scenario, target, cpu_per(1e3))

    lines = []
    ours = cpu("logins_password", "popdrop") - cpu("logins_cached", "popdrop")
    if ours == ours:
        lines.append(f"- popdrop's scrypt (n=2^14, r=8, p=1): {ours:.1f} ms of CPU per login")
    hashed = {r.target for r in results if r.scenario == "logins_password"} - {"popdrop", PLAIN}
    for target in sorted(hashed):
        theirs = cpu("logins_password", target) - cpu("logins_password", PLAIN)
        if theirs == theirs:
            lines.append(f"- {target}'s scheme: {theirs:.1f} ms of CPU per login")
    return lines


def greeted_rows(results: Sequence[Result]) -> list[str]:
    """Connections greeted, never logged in (the first method's idle scenario)."""
    greeted = [r for r in results if r.scenario.startswith("greeted_")]
    if not greeted:
        return []
    rows = [
        "| connections greeted, not logged in | server | PSS KiB per connection "
        "| new login p50 ms | slowest ms |",
        "|---|---|---|---|---|",
    ]
    for result in greeted:
        rows.append(
            f"| {result.extra['held']:.0f} | {result.target} "
            f"| {result.extra['pss_KiB_per_session']:.1f} | {result.quantile(0.5) * 1e3:.1f} "
            f"| {max(result.latencies, default=float('nan')) * 1e3:.1f} |"
        )
    return rows


def s3_rows(results: Sequence[Result], args: argparse.Namespace) -> list[str]:
    """The sequential download with and without S3 latency (popdrop only)."""
    direct = [r for r in results if r.scenario == "s3_direct" and r.units]
    delayed = [r for r in results if r.scenario == "s3_delayed" and r.units]
    if not direct or not delayed:
        return []

    def row(label: str, runs: list[Result]) -> str:
        first = statistics.median(r.quantile(0.5) for r in runs) * 1e3
        worst = statistics.median(r.quantile(0.99) for r in runs) * 1e3
        seconds = statistics.median(r.seconds for r in runs)
        return f"| {label} | {seconds:.3g} | {first:.2f} | {worst:.2f} |"

    ratio = statistics.median(r.seconds for r in delayed) / statistics.median(
        r.seconds for r in direct
    )
    return [
        f"| S3 first-byte latency | sequential download of {direct[0].units} messages, s "
        "| RETR time to first byte p50 ms | p99 ms | target |",
        "|---|---|---|---|---|",
        row("none", direct) + " |",
        row(f"{args.delay_ms:g} ± {args.jitter_ms:g} ms", delayed)
        + f" {ratio:.3g}x (<= 1.3: {verdict(ratio <= 1.3)}) |",
    ]


def report(results: Sequence[Result], args: argparse.Namespace, hashed: str) -> str:
    sections = [
        (
            "issue 17's method (the targets): authenticated idle sessions on distinct mailboxes, "
            f"popdrop against Dovecot with {args.dovecot_scheme} and with plain-text passwords",
            held_rows(results, hashed),
        ),
        ("issue 17's method: logins per CPU-second by password path", login_rows(results)),
        (
            "issue 17's method: commands and large RETR (Dovecot with plain-text passwords)",
            comparison(results, SECOND, "dovecot"),
        ),
        (
            "the first method (no password hash on either side; single-line pipelined commands)",
            comparison(results, FIRST, "dovecot"),
        ),
        ("the first method: connections greeted, never logged in", greeted_rows(results)),
        ("S3 latency (popdrop alone)", s3_rows(results, args)),
    ]
    text = [f"### {title}\n\n" + "\n".join(rows) for title, rows in sections if rows]
    return "\n\n".join(text).strip() + "\n"
