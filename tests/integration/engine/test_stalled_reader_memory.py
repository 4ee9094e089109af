"""Clients that stop reading mid-RETR (issue 15): each costs the daemon at most the documented
per-session figure (docs/engine.md, "Memory per session"), counting both the process's memory and
the kernel's send queue, and all of it comes back once the idle timeout ends the session, without
the client ever reading or closing."""

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
PER_SESSION = 3 * MIB  # docs/engine.md: "about 3 MiB per session at the worst moment"
TCP_CLOSE = 7  # linux/tcp_states.h


def _kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def _send_queues(port: int) -> list[int]:
    """The kernel's send queue (octets not yet acknowledged) of each connection to `port`'s
    server side, from /proc/net/tcp's tx_queue."""
    queues = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":  # ESTABLISHED
            queues.append(int(fields[4].split(":")[0], 16))
    return queues


def _state(sock: socket.socket) -> int:
    return int(struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0])


def _logged_in(port: int, mailbox: str) -> socket.socket:
    """A client with a small receive window, logged in to `mailbox`."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(10)
    replies = sock.makefile("rb")
    assert replies.readline().startswith(b"+OK")
    sock.sendall(f"USER {mailbox}\r\nPASS {PASSWORD}\r\n".encode())
    assert replies.readline().startswith(b"+OK") and replies.readline().startswith(b"+OK")
    return sock


def _until_all_reset(clients: list[socket.socket], port: int) -> Iterator[list[int]]:
    """Yield the daemon's send queues every 50 ms until the daemon has ended every session (the
    clients' sockets were reset), within a generous deadline."""
    deadline = time.monotonic() + 60
    while any(_state(client) != TCP_CLOSE for client in clients):
        assert time.monotonic() < deadline, "the daemon kept sessions whose client stopped reading"
        yield _send_queues(port)
        time.sleep(0.05)


def test_clients_that_stop_reading_cost_the_documented_figure_and_it_comes_back(
    store: Store, mailbox: str
) -> None:
    mailboxes = [f"stall{n}@example.test" for n in range(CLIENTS)]
    for address in mailboxes:
        store.create_mailbox(address, hash_password(PASSWORD))
        deliver(store, MESSAGE, address)
    with replica(store, idle_timeout="3") as (process, port):
        rss_after: list[int] = []  # KiB after each round
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
                rss_after.append(_kib(process.pid, "VmRSS"))
                assert grown / CLIENTS + queued <= PER_SESSION, (
                    f"{grown / CLIENTS / MIB:.2f} MiB in the daemon and {queued / MIB:.2f} MiB "
                    "in the kernel per stalled session"
                )
    # What the sessions held came back: rounds after the first leave the daemon no larger.
    assert (rss_after[-1] - rss_after[0]) * 1024 <= CLIENTS * MIB / 2, rss_after
