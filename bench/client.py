"""The load generator's POP3 client side: a connection, the servers it targets, what a run reports.

Every read waits at most IO_TIMEOUT; a failure is counted in the run's `Result` under a short
reason (the server's -ERR line, "timeout", "reset", ...), so a report says why sessions failed, not
only how many.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import ssl
from dataclasses import asdict, dataclass, field

from probe import ServerProbe

LOOPBACK = "127.0.0.1"
# A message of up to this size is read in one `readuntil`; the large scenario uses 5 MiB messages.
READ_LIMIT = 64 * 1024 * 1024
IO_TIMEOUT = 60.0


class ProtocolError(Exception):
    """The server answered something a scenario did not expect (-ERR, or a closed connection)."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(f"expected +OK, got {reply[:80]!r}")
        self.reply = reply


# What a scenario counts as a failed unit of work rather than a bug in the generator.
FAILURES = (TimeoutError, ProtocolError, OSError, asyncio.IncompleteReadError)


def reason(error: BaseException) -> str:
    """A failure in a few words: the -ERR line the server sent, or what happened to the socket."""
    match error:
        case ProtocolError(reply=reply):
            text = reply.decode("ascii", "replace").strip()
            return text[:60] or "closed by the server"
        case TimeoutError():
            return f"no reply within {IO_TIMEOUT:g} s"
        case asyncio.IncompleteReadError():
            return "closed by the server"
        case ConnectionResetError():
            return "reset by the server"
        case OSError(errno=code) if code is not None:
            return f"{type(error).__name__} ({errno.errorcode.get(code, code)})"
    return type(error).__name__


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    port: int
    tls_port: int | None
    probe: ServerProbe
    host: str = LOOPBACK
    # The storage host (moto's server) when it is a process of its own: its CPU is reported
    # beside the server's, never added to it.
    storage: ServerProbe | None = None


@dataclass(frozen=True, slots=True)
class Account:
    user: str
    password: str


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
    failures: dict[str, int] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    def fail(self, error: BaseException) -> None:
        self.errors += 1
        key = reason(error)
        self.failures[key] = self.failures.get(key, 0) + 1

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
            "max": max(self.latencies, default=float("nan")),
        }
        if len(self.latencies) <= 100:  # a few timed logins: every one of them
            data["latencies"] = self.latencies
        return data

    def line(self) -> str:
        extra = "".join(f" {key}={value:.4g}" for key, value in self.extra.items())
        failures = "".join(f"; {count} x {text}" for text, count in self.failures.items())
        return (
            f"{self.scenario:18s} {self.target:14s} {self.units:7d} {self.unit:8s} "
            f"{self.throughput:9.1f}/s  p50 {self.quantile(0.5) * 1e3:8.2f} ms  "
            f"p99 {self.quantile(0.99) * 1e3:8.2f} ms  server CPU/{self.unit} "
            f"{self.cpu_per_unit * 1e6:10.1f} us  errors {self.errors}{failures}{extra}"
        )


def client_tls() -> ssl.SSLContext:
    """Both servers present a self-signed certificate on loopback: no verification."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Client:
    """One POP3 connection: single-line replies, multi-line replies, pipelined writes.

    A multi-line reply is read in as few reads as the stream allows, or with `lines` one line at
    a time, as a client that parses each line does: slower on the client's side, and for a large
    reply the server then meets a full socket buffer more often (docs/performance.md, "Two
    methods")."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, lines: bool = False
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.lines = lines

    @classmethod
    async def connect(cls, target: Target, *, tls: bool = False, lines: bool = False) -> Client:
        port = target.tls_port if tls else target.port
        if port is None:
            raise ProtocolError(f"{target.name} has no implicit-TLS port".encode())
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target.host, port, ssl=client_tls() if tls else None, limit=READ_LIMIT
            ),
            IO_TIMEOUT,
        )
        client = cls(reader, writer, lines=lines)
        try:
            await client.ok()
        except BaseException:
            client.close()
            raise
        return client

    async def ok(self) -> bytes:
        line = await asyncio.wait_for(self.reader.readline(), IO_TIMEOUT)
        if not line.startswith(b"+OK"):
            raise ProtocolError(line)
        return line

    async def command(self, text: bytes) -> bytes:
        self.writer.write(text + b"\r\n")
        return await self.ok()

    async def multiline(self) -> int:
        """Read a multi-line reply; the octets of its body, up to and including the terminating
        line (RFC 1939 §3: an empty one, LIST of an empty maildrop, is that line alone)."""
        await self.ok()
        if self.lines:
            return await self._line_by_line()
        data = b""
        while True:
            data += await asyncio.wait_for(self.reader.readuntil(b".\r\n"), IO_TIMEOUT)
            if data == b".\r\n" or data.endswith(b"\r\n.\r\n"):
                return len(data)

    async def _line_by_line(self) -> int:
        size = 0
        while True:
            line = await asyncio.wait_for(self.reader.readline(), IO_TIMEOUT)
            if not line.endswith(b"\n"):
                raise asyncio.IncompleteReadError(line, None)
            size += len(line)
            if line == b".\r\n":
                return size

    async def login(self, user: str, password: str) -> None:
        await self.command(b"USER " + user.encode())
        await self.command(b"PASS " + password.encode())

    @property
    def open(self) -> bool:
        """Neither side has closed the connection (as far as the event loop has seen)."""
        return not self.reader.at_eof() and not self.writer.is_closing()

    async def quit(self) -> None:
        with contextlib.suppress(*FAILURES):
            await self.command(b"QUIT")
        self.close()

    def close(self) -> None:
        self.writer.close()


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-files limit towards `wanted` (up to the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)
