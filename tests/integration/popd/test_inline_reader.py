"""The stream reader that lets a connection answer a window where it arrives, without waking its
task (popd/inline_reader.py), and a connection's windows that mix inline and handed-over commands.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from popd import event_loop
from popd.inline_reader import Inline, InlineReader
from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon
from tests.support import RawClient, deliver, logout_line, unstuff

MESSAGE = b"From: a@example.test\r\nSubject: one\r\n\r\nbody\r\n"


async def _reading(reader: InlineReader) -> asyncio.Task[bytes]:
    task = asyncio.create_task(reader.read(100))
    await asyncio.sleep(0)  # now waiting in read()
    return task


def test_a_window_answered_inline_does_not_wake_the_reading_task() -> None:
    async def scenario() -> None:
        reader = InlineReader(limit=1024)
        seen: list[bytes] = []

        def answer(data: bytes) -> Inline:
            seen.append(data)
            return Inline.ANSWERED

        reader.answer = answer
        task = await _reading(reader)
        reader.feed_data(b"NOOP\r\n")
        await asyncio.sleep(0.05)
        assert seen == [b"NOOP\r\n"] and not task.done()
        reader.answer = None
        reader.feed_data(b"STAT\r\n")  # no callback: read as asyncio would
        assert await task == b"STAT\r\n"

    event_loop.run(scenario())


def test_a_declined_window_is_read_as_usual() -> None:
    async def scenario() -> None:
        reader = InlineReader(limit=1024)
        reader.answer = lambda data: Inline.DECLINED
        task = await _reading(reader)
        reader.feed_data(b"USER a\r\n")
        assert await task == b"USER a\r\n"

    event_loop.run(scenario())


def test_a_handed_window_wakes_the_task_and_holds_back_what_follows_until_taken_over() -> None:
    """What arrives between the hand-over and `take_over` (say, plaintext after STLS, RFC 2595
    §4) is not what the woken read returns."""

    async def scenario() -> None:
        reader = InlineReader(limit=1024)
        reader.answer = lambda data: Inline.HANDED
        task = await _reading(reader)
        reader.feed_data(b"STLS\r\n")
        reader.feed_data(b"NOOP\r\n")
        reader.feed_eof()
        assert await task == b""
        reader.take_over()
        assert await reader.read(100) == b"NOOP\r\n"
        assert reader.at_eof()

    event_loop.run(scenario())


def test_windows_after_login_mix_inline_replies_and_handed_commands_in_order_rfc2449_s6_6(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(daemon.store, MESSAGE, ADDRESS)
    caplog.set_level(logging.INFO, logger="popd")
    client = RawClient(daemon.endpoints.pop3_port)
    assert client.line().startswith(b"+OK")
    assert client.command(f"USER {ADDRESS}").startswith(b"+OK")
    assert client.command(f"PASS {PASSWORD}").startswith(b"+OK")
    size = len(MESSAGE)
    for _ in range(3):
        client.send(b"STAT\r\nNOOP\r\nRETR 1\r\nLIST 1\r\nDELE 1\r\nRSET\r\nUIDL 1\r\n")
        assert client.line() == f"+OK 1 {size}\r\n".encode()
        assert client.line() == b"+OK\r\n"
        assert client.line().startswith(b"+OK")
        assert unstuff(client.multiline()) == MESSAGE
        assert client.line() == f"+OK 1 {size}\r\n".encode()
        assert client.line().startswith(b"+OK")  # DELE
        assert client.line().startswith(b"+OK")  # RSET
        assert client.line().startswith(b"+OK 1 ")
    for _ in range(20):  # single replies only: answered where they arrive
        client.send(b"NOOP\r\nSTAT\r\n")
        assert client.line() == b"+OK\r\n"
        assert client.line() == f"+OK 1 {size}\r\n".encode()
    assert client.command("QUIT").startswith(b"+OK")
    assert client.sock.recv(1) == b""
    client.close()
    fields = logout_line(caplog)
    assert fields["outcome"] == "quit" and fields["retr"] == 3
    assert fields["commands"] == 2 + 3 * 7 + 20 * 2 + 1
