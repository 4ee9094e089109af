"""Idle sessions held open: memory per session, and what a new login costs while they are held.

Two methods, reported apart (docs/performance.md, "Two methods"):

- `held` (issue 17, the method of the outside load generator, and the one the targets use): each
  session is a distinct mailbox, logged in with USER/PASS, one STAT answered, then held, as a
  POP3 client that idles holds its maildrop. Opened GATE at a time. Memory is the PSS of the
  server's process tree before and after, divided by the sessions still alive. Then new logins
  to other distinct mailboxes, one after another, each timed from connect to the STAT reply.
- `greeted` (the first method): connections greeted and never logged in, all to one account's
  server. It measures what a connection costs before login (a client that connects and waits, a
  connection flood), not an idle POP3 session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from client import FAILURES, Account, Client, Result, Target, raise_fd_limit

GATE = 64  # sessions being opened at once
SETTLE = 2.0  # seconds after the last open before memory is read (forks, buffers, frees)
QUIET = 10.0  # seconds of CPU sampled while the sessions are only held
PEAK_EVERY = 2.0  # seconds between samples of the peak PSS while sessions are opened


def _room_for(count: int) -> None:
    limit = raise_fd_limit(count + 1024)
    if limit < count + 64:
        raise SystemExit(f"open-files limit {limit} is too low for {count} idle sessions")


async def _timed_login(target: Target, account: Account) -> tuple[Client, float]:
    """Connect, USER/PASS, STAT: the session and the seconds from connect to the STAT reply."""
    started = time.perf_counter()
    client = await Client.connect(target)
    try:
        await client.login(account.user, account.password)
        await client.command(b"STAT")
    except BaseException:
        client.close()
        raise
    return client, time.perf_counter() - started


async def held(
    target: Target,
    accounts: Sequence[Account],
    fresh: Sequence[Account],
    deadline: float,
    *,
    quiet: float = QUIET,
) -> Result:
    """Hold one logged-in session per account in `accounts`; then log in to each of `fresh` (other
    mailboxes) one after another while they are held. The Result's units and latencies are those
    new logins; `extra` has the memory, the opening and the held sessions' CPU."""
    result = Result(f"held_{len(accounts)}", target.name, "login")
    _room_for(len(accounts))
    stop = time.monotonic() + deadline
    sessions: list[Client] = []
    opening: list[float] = []
    gate = asyncio.Semaphore(GATE)

    async def open_one(account: Account) -> None:
        async with gate:
            if time.monotonic() > stop:
                result.extra["not_tried"] = result.extra.get("not_tried", 0) + 1
                return
            try:
                client, seconds = await _timed_login(target, account)
            except FAILURES as error:
                result.fail(error)
                return
            sessions.append(client)
            opening.append(seconds)

    probe = target.probe
    await asyncio.sleep(0.5)
    pss_before = probe.pss_kib()
    cpu, started = probe.cpu_seconds(), time.perf_counter()
    samples: list[int] = []
    peak = asyncio.create_task(_sample_pss(target, samples))
    try:
        await asyncio.gather(*(open_one(account) for account in accounts))
        open_seconds = time.perf_counter() - started
        open_cpu = probe.cpu_seconds() - cpu
        peak.cancel()
        await asyncio.sleep(SETTLE)
        pss_after = probe.pss_kib()
        alive = sum(client.open for client in sessions)
        result.extra |= {
            "held": len(sessions),
            "alive": alive,
            "pss_KiB_per_session": (pss_after - pss_before) / max(1, alive),
            "pss_before_MiB": pss_before / 1024,
            "pss_after_MiB": pss_after / 1024,
            "pss_peak_MiB": max(samples, default=pss_after) / 1024,
            "processes": probe.processes(),
            "open_s": open_seconds,
            "opened_per_s": len(sessions) / open_seconds if open_seconds else 0.0,
            "open_cpu_ms_per_login": open_cpu / max(1, len(sessions)) * 1e3,
            "open_p50_ms": sorted(opening)[len(opening) // 2] * 1e3 if opening else float("nan"),
            "open_max_ms": max(opening, default=float("nan")) * 1e3,
            # Opens a client with a 10 or 30 s timeout would have given up on.
            "opens_over_10s": sum(seconds > 10 for seconds in opening),
            "opens_over_30s": sum(seconds > 30 for seconds in opening),
        }
        result.extra |= await _quiet_cpu(target, quiet)

        async def new_logins() -> None:
            for account in fresh:
                if time.monotonic() > stop:
                    break
                try:
                    client, seconds = await _timed_login(target, account)
                except FAILURES as error:
                    result.fail(error)
                    continue
                result.latencies.append(seconds)
                result.units += 1
                await client.quit()

        cpu, started = probe.cpu_seconds(), time.perf_counter()
        await new_logins()
        result.seconds = time.perf_counter() - started
        result.server_cpu = probe.cpu_seconds() - cpu
        result.extra["alive_at_end"] = sum(client.open for client in sessions)
    finally:
        peak.cancel()
        for client in sessions:
            client.close()
        await asyncio.sleep(0.5)
    return result


async def _sample_pss(target: Target, samples: list[int]) -> None:
    """PSS sampled every PEAK_EVERY seconds while sessions are being opened: the memory logins
    need at once (popd: 16 MiB per scrypt hash running) shows in the peak, not in the end."""
    while True:
        samples.append(await asyncio.to_thread(target.probe.pss_kib))
        await asyncio.sleep(PEAK_EVERY)


async def _quiet_cpu(target: Target, seconds: float) -> dict[str, float]:
    """The CPU the server (and the storage host) use while the sessions are only held: renewals,
    timers, anything that runs per held session. In % of one core."""
    if seconds <= 0:
        return {}
    storage = target.storage
    cpu = target.probe.cpu_seconds()
    stored = storage.cpu_seconds() if storage else 0.0
    await asyncio.sleep(seconds)
    figures = {"held_cpu_pct": (target.probe.cpu_seconds() - cpu) / seconds * 100}
    if storage:
        figures["storage_cpu_pct"] = (storage.cpu_seconds() - stored) / seconds * 100
    return figures


async def greeted(
    target: Target, account: Account, count: int, logins: int, deadline: float
) -> Result:
    """The first method: hold `count` connections greeted and never logged in; PSS per held
    connection, and the latency of `logins` sessions (connect to QUIT, all on `account`) while
    they are held."""
    result = Result(f"greeted_{count}", target.name, "login")
    _room_for(count)
    stop = time.monotonic() + deadline
    held_open: list[Client] = []
    gate = asyncio.Semaphore(GATE)

    async def hold() -> None:
        async with gate:
            if time.monotonic() > stop:
                return
            try:
                held_open.append(await Client.connect(target))
            except FAILURES as error:
                result.fail(error)

    await asyncio.sleep(0.5)
    pss_before = target.probe.pss_kib()
    try:
        await asyncio.gather(*(hold() for _ in range(count)))
        await asyncio.sleep(1.0)  # let the server settle (forks, buffers) before sampling
        pss_after = target.probe.pss_kib()
        result.extra["held"] = len(held_open)
        result.extra["pss_KiB_per_session"] = (pss_after - pss_before) / max(1, len(held_open))
        cpu, started = target.probe.cpu_seconds(), time.perf_counter()
        for _ in range(logins):
            if time.monotonic() > stop:
                break
            try:
                client, seconds = await _timed_login(target, account)
            except FAILURES as error:
                result.fail(error)
                continue
            result.latencies.append(seconds)
            result.units += 1
            await client.quit()
        result.seconds = time.perf_counter() - started
        result.server_cpu = target.probe.cpu_seconds() - cpu
    finally:
        for client in held_open:
            client.close()
        await asyncio.sleep(0.5)
    return result
