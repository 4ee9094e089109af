"""An asyncio POP3 load generator: scenarios against any POP3 server on loopback.

Each scenario returns a `Result`: how much work was done, how long it took, the latency of each
unit (a session, a login, a window of pipelined commands, a message), and the *server's* CPU
seconds over the run, read from /proc for the process tree named by `ServerProbe`
(bench/probe.py). CPU per unit of work is the robust figure on a shared machine: wall-clock
throughput moves with whatever else is running, the server's own CPU time much less.

Every loop is bounded in count and in time: a scenario stops at its count or at its deadline,
whichever comes first, and reports how much it did.

Usage against a running server (see bench/run.py for the A/B comparison):
    .venv/bin/python bench/loadgen.py --port 1110 --user USER --password PW --pid PID sessions
    .venv/bin/python bench/loadgen.py --port 1110 --user 'idle{}@bench.test' --password PW \
        --pid PID --tree held --count 2000 --logins 20    # idle0 ... idle2019: distinct mailboxes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

import idle
from client import FAILURES, IO_TIMEOUT, LOOPBACK, Account, Client, Result, Target
from probe import ServerProbe

PIPELINED = (b"NOOP\r\n", b"STAT\r\n", b"LIST 1\r\n", b"UIDL 1\r\n")
# issue 17's command mix: LIST and UIDL of the whole maildrop (multi-line replies); True = multi.
COMMANDS = ((b"STAT\r\n", False), (b"LIST\r\n", True), (b"UIDL\r\n", True), (b"NOOP\r\n", False))


async def _measured(result: Result, target: Target, work: Callable[[], Awaitable[None]]) -> Result:
    cpu = target.probe.cpu_seconds()
    started = time.perf_counter()
    await work()
    result.seconds = time.perf_counter() - started
    result.server_cpu = target.probe.cpu_seconds() - cpu
    return result


async def one_session(target: Target, account: Account, *, tls: bool = False) -> float:
    """Connect, log in, STAT, QUIT; returns the session's latency."""
    started = time.perf_counter()
    client = await Client.connect(target, tls=tls)
    try:
        await client.login(account.user, account.password)
        await client.command(b"STAT")
        await client.command(b"QUIT")
    finally:
        client.close()
    return time.perf_counter() - started


async def sessions(
    target: Target,
    accounts: list[Account],
    count: int,
    deadline: float,
    *,
    tls: bool = False,
) -> Result:
    """`count` sessions, one worker per account (a maildrop is held by one session at a time)."""
    result = Result("tls_sessions" if tls else "sessions", target.name, "session")
    stop = time.monotonic() + deadline
    remaining = iter(range(count))

    async def worker(account: Account) -> None:
        for _ in remaining:
            if time.monotonic() > stop:
                return
            try:
                result.latencies.append(await one_session(target, account, tls=tls))
                result.units += 1
            except FAILURES as error:
                result.fail(error)

    async def work() -> None:
        await asyncio.gather(*(worker(account) for account in accounts))

    return await _measured(result, target, work)


async def logins(
    target: Target, accounts: Sequence[Account], deadline: float, scenario: str, workers: int = 4
) -> Result:
    """One session (connect, USER/PASS, STAT, QUIT) per account, each a distinct mailbox, by
    `workers` clients at once: the server's CPU per login, whatever the password path costs."""
    result = Result(scenario, target.name, "login")
    stop = time.monotonic() + deadline
    remaining = iter(accounts)

    async def worker() -> None:
        for account in remaining:
            if time.monotonic() > stop:
                return
            try:
                result.latencies.append(await one_session(target, account))
                result.units += 1
            except FAILURES as error:
                result.fail(error)

    async def work() -> None:
        await asyncio.gather(*(worker() for _ in range(workers)))

    return await _measured(result, target, work)


async def commands(
    target: Target,
    accounts: Sequence[Account],
    count: int,
    window: int,
    deadline: float,
    *,
    lines: bool = False,
) -> Result:
    """issue 17's method: one connection per account, each logged in to its own maildrop, sending
    STAT, LIST, UIDL, NOOP in turn (LIST and UIDL of the whole maildrop), `window` commands per
    write, and reading every reply (with `lines`, line by line) before the next window."""
    result = Result("commands", target.name, "command")
    result.extra |= {"window": window, "connections": len(accounts), "read_lines": lines}
    stop = time.monotonic() + deadline
    per_client = count // len(accounts)
    mix = [COMMANDS[i % len(COMMANDS)] for i in range(window)]
    batch = b"".join(command for command, _ in mix)

    async def worker(account: Account) -> None:
        client = await Client.connect(target, lines=lines)
        await client.login(account.user, account.password)
        for _ in range(per_client // window):
            if time.monotonic() > stop:
                break
            started = time.perf_counter()
            client.writer.write(batch)
            for _, multiline in mix:
                # Not `result.octets += await ...`: that reads the total before the await, and
                # the other connections' additions made meanwhile would be lost.
                octets = await client.multiline() if multiline else len(await client.ok())
                result.octets += octets
            result.latencies.append(time.perf_counter() - started)
            result.units += window
        await client.quit()

    async def work() -> None:
        await asyncio.gather(*(worker(account) for account in accounts))

    return await _measured(result, target, work)


async def pipelined(
    target: Target, accounts: list[Account], count: int, window: int, deadline: float
) -> Result:
    """`count` single-line commands in the TRANSACTION state, `window` of them per write."""
    result = Result("pipelined", target.name, "command")
    result.extra["window"] = window
    stop = time.monotonic() + deadline
    per_client = count // len(accounts)
    batch = b"".join(PIPELINED[i % len(PIPELINED)] for i in range(window))

    async def worker(account: Account) -> None:
        client = await Client.connect(target)
        await client.login(account.user, account.password)
        for _ in range(per_client // window):
            if time.monotonic() > stop:
                break
            started = time.perf_counter()
            client.writer.write(batch)
            for _ in range(window):
                await client.ok()
            result.latencies.append(time.perf_counter() - started)
            result.units += window
        await client.quit()

    async def work() -> None:
        await asyncio.gather(*(worker(account) for account in accounts))

    return await _measured(result, target, work)


async def retrieve(
    target: Target,
    account: Account,
    count: int,
    window: int,
    deadline: float,
    scenario: str,
    messages: int | None = None,
    *,
    lines: bool = False,
) -> Result:
    """`count` RETRs in one session, of messages 1..`messages` in turn (default: 1..count),
    `window` commands per write, each reply read whole (with `lines`, line by line); latency per
    message from its window's write to its last byte."""
    cycle = messages or count
    result = Result(scenario, target.name, "message")
    result.extra |= {"window": window, "read_lines": lines}
    client = await Client.connect(target, lines=lines)
    await client.login(account.user, account.password)
    stop = time.monotonic() + deadline

    async def work() -> None:
        done = 0
        while done < count and time.monotonic() < stop:
            numbers = [(done + i) % cycle + 1 for i in range(min(window, count - done))]
            started = time.perf_counter()
            client.writer.write(b"".join(b"RETR %d\r\n" % n for n in numbers))
            for _ in numbers:
                octets = await client.multiline()
                result.octets += octets
                result.latencies.append(time.perf_counter() - started)
                result.units += 1
            done += len(numbers)

    await _measured(result, target, work)
    await client.quit()
    if result.octets:
        result.extra["cpu_s_per_GB"] = result.server_cpu / (result.octets / 1e9)
        result.extra["MB_per_s"] = result.octets / 1e6 / result.seconds
    return result


async def first_bytes(
    target: Target, account: Account, count: int, deadline: float, scenario: str
) -> Result:
    """A sequential download (window 1): per message the time to the reply's first byte; the
    total time of the download is `seconds`."""
    result = Result(scenario, target.name, "message")
    client = await Client.connect(target)
    await client.login(account.user, account.password)
    stop = time.monotonic() + deadline
    total: list[float] = []

    async def work() -> None:
        for number in range(1, count + 1):
            if time.monotonic() > stop:
                break
            started = time.perf_counter()
            client.writer.write(b"RETR %d\r\n" % number)
            await asyncio.wait_for(client.reader.readexactly(1), IO_TIMEOUT)
            result.latencies.append(time.perf_counter() - started)
            result.octets += 1 + len(await client.reader.readuntil(b"\r\n.\r\n"))
            total.append(time.perf_counter() - started)
            result.units += 1

    await _measured(result, target, work)
    await client.quit()
    result.extra["message_p50_ms"] = statistics.median(total) * 1e3 if total else float("nan")
    return result


# ---------------------------------------------------------------------------------------------
# Command line: one scenario against one running server.


@contextlib.contextmanager
def _stopwatch(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"# {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def accounts(args: argparse.Namespace, count: int, first: int = 0) -> list[Account]:
    """`--user` with a `{}` is a pattern: the accounts first ... first + count - 1 (one mailbox
    each); without one, the same account `count` times."""
    return [Account(args.user.format(first + n), args.password) for n in range(count)]


async def run_scenario(args: argparse.Namespace) -> Result:
    target = Target(
        args.name, args.port, args.tls_port, ServerProbe(args.pid, tree=args.tree), args.host
    )
    account = accounts(args, 1)[0]
    match args.scenario:
        case "sessions" | "tls":
            return await sessions(
                target, [account], args.count, args.deadline, tls=args.scenario == "tls"
            )
        case "pipelined":
            return await pipelined(target, [account], args.count, args.window, args.deadline)
        case "commands":
            every = accounts(args, args.connections)
            return await commands(
                target, every, args.count, args.window, args.deadline, lines=args.lines
            )
        case "retr":
            return await retrieve(
                target,
                account,
                args.count,
                args.window,
                args.deadline,
                "retr",
                args.messages,
                lines=args.lines,
            )
        case "logins":
            return await logins(target, accounts(args, args.count), args.deadline, "logins")
        case "held":
            held = accounts(args, args.count)
            fresh = accounts(args, args.logins, first=args.count)
            return await idle.held(target, held, fresh, args.deadline, quiet=args.quiet)
        case "greeted":
            return await idle.greeted(target, account, args.count, args.logins, args.deadline)
    raise AssertionError(args.scenario)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenario",
        choices=["sessions", "tls", "pipelined", "commands", "retr", "logins", "held", "greeted"],
    )
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-port", type=int)
    parser.add_argument(
        "--user", required=True, help="an account, or a pattern with {} for distinct mailboxes"
    )
    parser.add_argument("--password", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--tree", action="store_true", help="count every process below the pid")
    parser.add_argument("--name", default="server")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--window", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4, help="commands: one per account")
    parser.add_argument("--messages", type=int, help="retr: cycle over messages 1..N")
    parser.add_argument(
        "--lines", action="store_true", help="commands, retr: read replies line by line"
    )
    parser.add_argument("--logins", type=int, default=20, help="held, greeted: new logins")
    parser.add_argument("--quiet", type=float, default=idle.QUIET, help="held: seconds sampled")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds, at most")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.host not in (LOOPBACK, "::1", "localhost"):
        parser.error("the load generator only talks to loopback")
    with _stopwatch(args.scenario):
        result = asyncio.run(run_scenario(args))
    print(json.dumps(result.summary()) if args.json else result.line())
    return 0 if result.units else 1


if __name__ == "__main__":
    sys.exit(main())
