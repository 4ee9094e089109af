"""An asyncio POP3 load generator: scenarios against any POP3 server on loopback.

Each scenario returns a `Result`: how much work was done, how long it took, the latency of each
unit (a session, a window of pipelined commands, a message), and the *server's* CPU seconds over
the run, read from /proc for the process tree named by `ServerProbe`. CPU per unit of work is the
robust figure on a shared machine: wall-clock throughput moves with whatever else is running, the
server's own CPU time much less.

Every loop is bounded in count and in time: a scenario stops at its count or at its deadline,
whichever comes first, and reports how much it did.

Usage against a running server (see bench/run.py for the A/B comparison):
    .venv/bin/python bench/loadgen.py --port 1110 --user USER --password PW --pid PID sessions
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import ssl
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field

LOOPBACK = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A message of up to this size is read in one `readuntil`; the large scenario uses 5 MB messages.
READ_LIMIT = 64 * 1024 * 1024
IO_TIMEOUT = 60.0
PIPELINED = (b"NOOP\r\n", b"STAT\r\n", b"LIST 1\r\n", b"UIDL 1\r\n")


class ProtocolError(Exception):
    """The server answered something a scenario did not expect (-ERR, or a closed connection)."""


# ---------------------------------------------------------------------------------------------
# The server side: CPU and memory of a process tree, from /proc.


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        text = handle.read()
    # The command name (field 2) may contain spaces; everything after its ')' splits cleanly.
    return text[text.rindex(")") + 2 :].split()


def _pids_in_group(pgid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(_stat_fields(int(name))[2]) == pgid:
                    pids.append(int(name))
    return pids


@dataclass(frozen=True, slots=True)
class ServerProbe:
    """The server's processes. With `tree`, every process in the leader's process group (Dovecot:
    master, login, pop3 and auth children); CPU then also counts the children the leader has
    reaped (cutime + cstime), so short-lived login processes are not lost."""

    pid: int
    tree: bool = False

    def pids(self) -> list[int]:
        return _pids_in_group(os.getpgid(self.pid)) if self.tree else [self.pid]

    def cpu_seconds(self) -> float:
        ticks = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = _stat_fields(pid)
                # utime, stime, cutime, cstime are fields 14-17 (indexes 11-14 after the name).
                ticks += int(fields[11]) + int(fields[12])
                if self.tree and pid == self.pid:
                    ticks += int(fields[13]) + int(fields[14])
        return ticks / CLK_TCK

    def pss_kib(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        return total


# ---------------------------------------------------------------------------------------------
# The client side.


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    port: int
    tls_port: int | None
    probe: ServerProbe
    host: str = LOOPBACK


@dataclass(slots=True)
class Result:
    scenario: str
    target: str
    unit: str
    units: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    octets: int = 0
    errors: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_unit(self) -> float:
        return self.server_cpu / self.units if self.units else float("nan")

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, object]:
        data = asdict(self)
        del data["latencies"]
        data |= {
            "throughput": self.throughput,
            "cpu_per_unit": self.cpu_per_unit,
            "p50": self.quantile(0.50),
            "p99": self.quantile(0.99),
        }
        return data

    def line(self) -> str:
        extra = "".join(f" {key}={value:.4g}" for key, value in self.extra.items())
        return (
            f"{self.scenario:18s} {self.target:9s} {self.units:7d} {self.unit:8s} "
            f"{self.throughput:9.1f}/s  p50 {self.quantile(0.5) * 1e3:8.2f} ms  "
            f"p99 {self.quantile(0.99) * 1e3:8.2f} ms  server CPU/{self.unit} "
            f"{self.cpu_per_unit * 1e6:10.1f} us  errors {self.errors}{extra}"
        )


def client_tls() -> ssl.SSLContext:
    """Both servers present a self-signed certificate on loopback: no verification."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Client:
    """One POP3 connection: single-line replies, multi-line replies, pipelined writes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, target: Target, *, tls: bool = False) -> Client:
        port = target.tls_port if tls else target.port
        if port is None:
            raise ProtocolError(f"{target.name} has no implicit-TLS port")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target.host, port, ssl=client_tls() if tls else None, limit=READ_LIMIT
            ),
            IO_TIMEOUT,
        )
        client = cls(reader, writer)
        await client.ok()
        return client

    async def ok(self) -> bytes:
        line = await asyncio.wait_for(self.reader.readline(), IO_TIMEOUT)
        if not line.startswith(b"+OK"):
            raise ProtocolError(f"expected +OK, got {line[:80]!r}")
        return line

    async def command(self, text: bytes) -> bytes:
        self.writer.write(text + b"\r\n")
        return await self.ok()

    async def multiline(self) -> bytes:
        await self.ok()
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n.\r\n"), IO_TIMEOUT)

    async def login(self, user: str, password: str) -> None:
        await self.command(b"USER " + user.encode())
        await self.command(b"PASS " + password.encode())

    async def quit(self) -> None:
        with contextlib.suppress(ProtocolError, OSError, asyncio.TimeoutError):
            await self.command(b"QUIT")
        self.close()

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True, slots=True)
class Account:
    user: str
    password: str


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
            except (TimeoutError, ProtocolError, OSError):
                result.errors += 1

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
) -> Result:
    """`count` RETRs in one session, of messages 1..`messages` in turn (default: 1..count),
    `window` commands per write; latency per message from its window's write to its last byte."""
    cycle = messages or count
    result = Result(scenario, target.name, "message")
    result.extra["window"] = window
    client = await Client.connect(target)
    await client.login(account.user, account.password)
    stop = time.monotonic() + deadline

    async def work() -> None:
        done = 0
        while done < count and time.monotonic() < stop:
            numbers = [(done + i) % cycle + 1 for i in range(min(window, count - done))]
            started = time.perf_counter()
            client.writer.write(b"".join(b"RETR %d\r\n" % n for n in numbers))
            for _ in numbers:
                result.octets += len(await client.multiline())
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


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-files limit towards `wanted` (up to the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


async def idle(
    target: Target, account: Account, count: int, logins: int, deadline: float
) -> Result:
    """Hold `count` connections open and idle (greeted, not logged in); report the server's PSS
    per held connection and the latency of `logins` new sessions while they are held."""
    result = Result(f"idle_{count}", target.name, "login")
    limit = raise_fd_limit(count + 1024)
    if limit < count + 64:
        raise SystemExit(f"open-files limit {limit} is too low for {count} idle sessions")
    stop = time.monotonic() + deadline
    held: list[Client] = []
    gate = asyncio.Semaphore(64)  # connects in flight: do not flood the listen backlog

    async def hold() -> None:
        async with gate:
            if time.monotonic() > stop:
                return
            try:
                held.append(await Client.connect(target))
            except (TimeoutError, ProtocolError, OSError):
                result.errors += 1

    await asyncio.sleep(0.5)
    pss_before = target.probe.pss_kib()
    try:
        await asyncio.gather(*(hold() for _ in range(count)))
        await asyncio.sleep(1.0)  # let the server settle (forks, buffers) before sampling
        pss_after = target.probe.pss_kib()
        result.extra["held"] = len(held)
        result.extra["pss_KiB_per_session"] = (pss_after - pss_before) / max(1, len(held))

        async def work() -> None:
            for _ in range(logins):
                if time.monotonic() > stop:
                    break
                result.latencies.append(await one_session(target, account))
                result.units += 1

        await _measured(result, target, work)
    finally:
        for client in held:
            client.close()
        await asyncio.sleep(0.5)
    return result


# ---------------------------------------------------------------------------------------------
# Command line: one scenario against one running server.


@contextlib.contextmanager
def _stopwatch(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"# {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


async def run_scenario(args: argparse.Namespace) -> Result:
    target = Target(
        args.name, args.port, args.tls_port, ServerProbe(args.pid, tree=args.tree), args.host
    )
    account = Account(args.user, args.password)
    match args.scenario:
        case "sessions" | "tls":
            return await sessions(
                target, [account], args.count, args.deadline, tls=args.scenario == "tls"
            )
        case "pipelined":
            return await pipelined(target, [account], args.count, args.window, args.deadline)
        case "retr":
            return await retrieve(
                target, account, args.count, args.window, args.deadline, "retr", args.messages
            )
        case "idle":
            return await idle(target, account, args.count, args.logins, args.deadline)
    raise AssertionError(args.scenario)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["sessions", "tls", "pipelined", "retr", "idle"])
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-port", type=int)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--tree", action="store_true", help="count the pid's process group")
    parser.add_argument("--name", default="server")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--window", type=int, default=1)
    parser.add_argument("--messages", type=int, help="retr: cycle over messages 1..N")
    parser.add_argument("--logins", type=int, default=20)
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
