"""Clients that stop reading mid-RETR (issue 15): each costs the daemon at most the documented
per-session figure (docs/engine.md, "Memory per session"), counting both the process's memory and
the kernel's send queue, and once the idle timeout ends the session the daemon resets the
connection, so its buffers and the kernel's queue are freed without the client ever reading or
closing; round after round, the figure holds."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from popdrop.auth.passwords import hash_password
from popdrop.store import Store
from tests.support import deliver

from .conftest import PASSWORD, replica

MIB = 1024 * 1024
MESSAGE = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 16_000  # 16 MB
CLIENTS = 6  # each on its own mailbox: a maildrop serves one session at a time (RFC 1939 §8)
ROUNDS = 3
PER_SESSION = 3.5 * MIB  # docs/engine.md: "at most 3.5 MiB" per session at the worst moment
TCP_CLOSE = 7  # linux/tcp_states.h


def _kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def _server_side(port: int) -> list[tuple[str, int]]:
    """(TCP state in hex, send queue in octets) of every connection whose server side is `port`
    (the listening socket excluded), from /proc/net/tcp: orphaned ones included, which is where a
    closed but never-read connection keeps its queue."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] != "0A":  # 0A: LISTEN
            found.append((fields[3], int(fields[4].split(":")[0], 16)))
    return found


def _state(sock: socket.socket) -> int:
    return int(struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0])


def _logged_in(port: int, mailbox: str) -> socket.socket:
    """A client with a small receive window, logged in to `mailbox`: once the previous round's
    session has given the maildrop back (just after its reset), within a generous deadline."""
    deadline = time.monotonic() + 60
    while True:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.settimeout(10)
        replies = sock.makefile("rb")
        assert replies.readline().startswith(b"+OK")
        sock.sendall(f"USER {mailbox}\r\nPASS {PASSWORD}\r\n".encode())
        assert replies.readline().startswith(b"+OK")
        reply = replies.readline()
        if reply.startswith(b"+OK"):
            return sock
        sock.close()
        assert reply.startswith(b"-ERR [IN-USE]") and time.monotonic() < deadline, reply
        time.sleep(0.1)


def _until_all_reset(clients: list[socket.socket], port: int) -> Iterator[list[int]]:
    """Yield the daemon's send queues every 50 ms until the daemon has ended every session (the
    clients' sockets were reset), within a generous deadline."""
    deadline = time.monotonic() + 60
    while any(_state(client) != TCP_CLOSE for client in clients):
        assert time.monotonic() < deadline, "the daemon kept sessions whose client stopped reading"
        yield [queue for _, queue in _server_side(port)]
        time.sleep(0.05)


def test_clients_that_stop_reading_cost_the_documented_figure_and_it_comes_back(
    store: Store, mailbox: str
) -> None:
    mailboxes = [f"stall{n}@example.test" for n in range(CLIENTS)]
    for address in mailboxes:
        store.create_mailbox(address, hash_password(PASSWORD))
    deliver(store, MESSAGE, *mailboxes)  # one object for all
    with replica(store, idle_timeout="3") as (process, port):
        for _ in range(ROUNDS):
            with ExitStack() as stack:
                clients = [stack.enter_context(_logged_in(port, box)) for box in mailboxes]
                Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # resets VmHWM
                before = _kib(process.pid, "VmRSS")
                for client in clients:
                    client.sendall(b"RETR 1\r\n")  # and never read the reply
                queued = max(
                    (max(queues, default=0) for queues in _until_all_reset(clients, port)),
                    default=0,
                )
                grown = (_kib(process.pid, "VmHWM") - before) * 1024
                assert grown / CLIENTS + queued <= PER_SESSION, (
                    f"{grown / CLIENTS / MIB:.2f} MiB in the daemon and {queued / MIB:.2f} MiB "
                    "in the kernel per stalled session"
                )
            # The kernel's side came back too: no connection is left, orphaned or not, with a
            # queue the client never read.
            assert _server_side(port) == []
