"""A 100 MiB message is streamed with the daemon's memory bounded (DESIGN: memory per session stays
bounded however large the message), byte-exact and dot-stuffed across chunk boundaries
(RFC 1939 §3)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from popdrop.ingest import ingest
from popdrop.logfmt import now_ms
from popdrop.store import Store
from tests.support import RawClient

from .conftest import PASSWORD, replica

MIB = 1024 * 1024
# Lines of 80 octets and dot-led lines, so stuffing happens in every chunk and at boundaries.
BLOCK = (b"x" * 78 + b"\r\n" + b".dot-led line\r\n") * (MIB // 95)
HEADER = b"From: big@example.test\r\nSubject: big\r\n\r\n"
COPIES = 100
GROWTH_BOUND = 40 * MIB  # generous: one 64 KiB chunk in flight, plus buffers and allocator slack


def _memory_kib(pid: int, field: str) -> int:
    """A process's VmRSS (now) or VmHWM (peak so far) from /proc, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_a_100_mib_message_is_retrieved_with_the_daemons_memory_bounded(
    store: Store, mailbox: str
) -> None:
    data = HEADER + BLOCK * COPIES
    # Ingest quarantines anything over SES's 40 MiB; an operator's release puts it in the
    # maildrop, and the engine must serve whatever a maildrop holds.
    key = store.put_incoming("big", data)
    result = ingest(
        store, message_id="big", object_key=key, recipients=[mailbox], arrived_at=now_ms()
    )
    assert result.quarantined == (mailbox,)
    assert store.release_quarantined(mailbox, "big") is not None
    expected = hashlib.sha256(HEADER)
    stuffed_block = BLOCK.replace(b"\r\n.", b"\r\n..")
    for _ in range(COPIES):
        expected.update(stuffed_block)
    expected.update(b".\r\n")
    wire_length = len(HEADER) + len(stuffed_block) * COPIES + 3
    del data

    with replica(store) as (process, port):
        client = RawClient(port, timeout=60)
        assert client.line().startswith(b"+OK")
        client.command(f"USER {mailbox}")
        assert client.command(f"PASS {PASSWORD}").startswith(b"+OK")
        before = _memory_kib(process.pid, "VmRSS")
        assert (
            client.command("RETR 1")
            == f"+OK {len(HEADER) + len(BLOCK) * COPIES} octets\r\n".encode()
        )
        received = hashlib.sha256(client.buffer)
        remaining, client.buffer = wire_length - len(client.buffer), b""
        while remaining > 0:
            chunk = client.sock.recv(min(remaining, 1 << 20))
            assert chunk, "the daemon closed the connection mid-message"
            received.update(chunk)
            remaining -= len(chunk)
        peak = _memory_kib(process.pid, "VmHWM")
        assert client.command("QUIT").startswith(b"+OK")
        client.close()

    assert received.hexdigest() == expected.hexdigest()
    assert (peak - before) * 1024 < GROWTH_BOUND, f"grew {(peak - before) / 1024:.1f} MiB"
