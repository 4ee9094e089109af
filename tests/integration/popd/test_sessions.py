"""Whole sessions over a socket: pipelining (RFC 2449 §6.6) and the logout log line."""

from __future__ import annotations

import logging

import pytest

from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon
from tests.support import RawClient, deliver, logout_line, unstuff

FIRST = b"From: a@example.test\r\nSubject: one\r\n\r\n.leading dot\r\nbody\r\n"
SECOND = b"From: b@example.test\r\nSubject: two\r\n\r\n" + b"line\r\n" * 40


def logged_in(daemon: Daemon) -> RawClient:
    client = RawClient(daemon.endpoints.pop3_port)
    assert client.line().startswith(b"+OK")
    return client


def test_a_window_of_100_commands_in_one_write_is_answered_in_order_rfc2449_s6_6(
    daemon: Daemon,
) -> None:
    deliver(daemon.store, FIRST, ADDRESS)
    deliver(daemon.store, SECOND, ADDRESS)
    uids = [entry.uid for entry in daemon.store.list_messages(ADDRESS)]
    # (command, whether its reply is multi-line, the expected reply after the status line)
    cycle: list[tuple[str, bool, bytes | None]] = [
        ("STAT", False, f"+OK 2 {len(FIRST) + len(SECOND)}\r\n".encode()),
        ("LIST 2", False, f"+OK 2 {len(SECOND)}\r\n".encode()),
        ("UIDL 1", False, f"+OK 1 {uids[0]}\r\n".encode()),
        ("RETR 1", True, FIRST),
        ("TOP 2 3", True, SECOND[: SECOND.index(b"\r\n\r\n") + 4] + b"line\r\n" * 3),
        ("NOOP", False, b"+OK\r\n"),
        ("RETR 2", True, SECOND),
        ("LIST 9", False, b"-ERR No such message.\r\n"),
    ]
    window = [cycle[n % len(cycle)] for n in range(98)]
    script = [f"USER {ADDRESS}", f"PASS {PASSWORD}"] + [line for line, _, _ in window]
    assert len(script) == 100
    client = logged_in(daemon)
    client.send(b"".join(line.encode() + b"\r\n" for line in script))
    assert client.line() == b"+OK Send PASS.\r\n"
    assert client.line() == b"+OK Logged in.\r\n"
    for line, multiline, expected in window:
        status = client.line()
        if multiline:
            assert status.startswith(b"+OK"), line
            assert unstuff(client.multiline()) == expected, line
        else:
            assert status == expected, line
    assert client.command("QUIT").startswith(b"+OK")
    client.close()


def test_one_logout_line_counts_the_session_and_holds_no_secret(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(daemon.store, FIRST, ADDRESS)
    deliver(daemon.store, SECOND, ADDRESS)
    caplog.set_level(logging.INFO, logger="popd")
    client = logged_in(daemon)
    received = 0
    for line in (f"USER {ADDRESS}", f"PASS {PASSWORD}", "RETR 1", "TOP 2 0", "TOP 1 1"):
        client.send(line.encode() + b"\r\n")
        status = client.line()
        received += len(status)
        if line.startswith(("RETR", "TOP")):
            received += len(client.multiline())
    for line in ("DELE 1", "DELE 2", "QUIT"):
        received += len(client.command(line))
    assert client.sock.recv(1) == b""
    client.close()
    fields = logout_line(caplog)
    assert fields["user"] == ADDRESS and fields["method"] == "pass"
    assert fields["outcome"] == "quit"
    assert (fields["retr"], fields["top"], fields["deleted"]) == (1, 2, 2)
    assert fields["commands"] == 8
    assert fields["peer"] == "127.0.0.1"
    assert fields["seconds"] >= 0
    # Every octet the client read, greeting included.
    greeting = len(b"+OK popdrop POP3 ready.\r\n")
    assert fields["bytes_sent"] == greeting + received
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)
    assert all(PASSWORD not in str(getattr(r, "fields", "")) for r in caplog.records)


def test_a_dropped_session_logs_its_outcome(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="popd")
    client = logged_in(daemon)
    client.command(f"USER {ADDRESS}")
    client.command("PASS wrong")
    client.close()
    fields = logout_line(caplog)
    assert (fields["outcome"], fields["user"], fields["method"]) == ("disconnected", "", "")
