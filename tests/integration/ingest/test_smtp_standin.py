"""Issue 6, "The local SMTP stand-in behaves like SES at the SMTP level", through smtplib: 550 for
recipients that reach no mailbox (RFC 5321 §3.3), aliases, plus-addresses and catch-alls
accepted, 552 over the size limit (RFC 5321 §4.5.3.1.10, advertised by RFC 1870 SIZE), the
Return-Path and Received headers SES adds, and the same ingest code."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from popd.smtp_ingress import SES_MAX_MESSAGE_SIZE, start_smtp
from popdrop.model import Route
from popdrop.store import Store
from tests.support import stored_object

ALICE, BOB = "alice@example.test", "bob@example.test"
MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"
SMALL_LIMIT = 4096

Listen = Callable[..., int]


@pytest.fixture
def listen(store: Store) -> Iterator[Listen]:
    """Start the stand-in on a loopback port in a loop thread; return the port."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers: list[asyncio.Server] = []

    def start(**options: int) -> int:
        future = asyncio.run_coroutine_threadsafe(
            start_smtp(store, "127.0.0.1", 0, **options), loop
        )
        server = future.result(10)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start

    async def close(server: asyncio.Server) -> None:
        # In the loop's own thread: asyncio.Server is not thread-safe, and closing it from the
        # test's thread raced with the loop detaching the last connection.
        server.close()
        await server.wait_closed()

    for server in servers:
        asyncio.run_coroutine_threadsafe(close(server), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture(autouse=True)
def mailboxes(store: Store) -> None:
    for address in (ALICE, BOB):
        store.create_mailbox(address, "hash")


def test_an_unknown_recipient_is_refused_at_rcpt_to_with_550(listen: Listen) -> None:
    with smtplib.SMTP("127.0.0.1", listen(), timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("s@example.org")
        assert smtp.rcpt("nobody@example.test")[0] == 550
        assert smtp.rcpt(ALICE)[0] == 250


def test_aliases_plus_addresses_and_the_catch_all_are_accepted_and_delivered(
    store: Store, listen: Listen
) -> None:
    store.put_route(Route("team@example.test", (ALICE, BOB)))
    store.put_route(Route("@catch.test", (BOB,)))

    with smtplib.SMTP("127.0.0.1", listen(), timeout=10) as smtp:
        refused = smtp.sendmail(
            "s@example.org",
            ["team@example.test", "alice+news@example.test", "x@catch.test"],
            MESSAGE,
        )

    assert refused == {}
    [alice] = store.list_messages(ALICE)
    assert alice.tag == ""  # one copy: the first recipient reaching Alice (the alias) decides
    assert len(store.list_messages(BOB)) == 1


def test_a_message_over_the_size_limit_is_refused_with_552(store: Store, listen: Listen) -> None:
    with smtplib.SMTP("127.0.0.1", listen(max_size=SMALL_LIMIT), timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("s@example.org")
        smtp.rcpt(ALICE)
        code, _ = smtp.data(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * (SMALL_LIMIT // 70))

    assert code == 552
    assert store.list_messages(ALICE) == ()


def test_the_default_limit_is_ses_s_40_mb_advertised_in_ehlo(listen: Listen) -> None:
    with smtplib.SMTP("127.0.0.1", listen(), timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == str(SES_MAX_MESSAGE_SIZE) == str(40 * 1024 * 1024)


def test_accepted_mail_carries_return_path_and_received_like_ses(
    store: Store, listen: Listen
) -> None:
    with smtplib.SMTP("127.0.0.1", listen(), timeout=10) as smtp:
        smtp.sendmail("s@example.org", [ALICE], MESSAGE)

    [entry] = store.list_messages(ALICE)
    stored = stored_object(store, entry.object_key)
    assert stored.startswith(b"Return-Path: <s@example.org>\r\nReceived: from ")
    assert stored.endswith(MESSAGE)


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def test_received_names_the_one_recipient_of_a_single_recipient_copy_rfc5321_s4_4(
    store: Store, listen: Listen
) -> None:
    with smtplib.SMTP("127.0.0.1", listen(), timeout=10) as smtp:
        smtp.sendmail("s@example.org", [ALICE], MESSAGE)

    [entry] = store.list_messages(ALICE)
    assert b"\r\n for <alice@example.test>;\r\n" in stored_object(store, entry.object_key)


def test_received_never_lists_other_recipients_nor_outgrows_998_octets_rfc5322_s2_1_1(
    store: Store, listen: Listen
) -> None:
    """Issue 15: one object serves every recipient, so its trace header names none of them when
    there are several (Bcc and plus-tags included), and no line of it passes 998 octets, whatever
    the HELO name."""
    recipients = [*(f"alice+tag{n}@example.test" for n in range(100)), BOB]
    port = listen()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="h" * 400, timeout=30) as smtp:
        assert smtp.sendmail("s@example.org", recipients, MESSAGE) == {}

    [entry] = store.list_messages(ALICE)
    head = header_block(stored_object(store, entry.object_key))
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    assert b"tag" not in head and BOB.encode() not in head and ALICE.encode() not in head
    assert b"\r\n for " not in head


def test_a_message_at_the_advertised_limit_is_delivered_not_quarantined(
    store: Store, listen: Listen
) -> None:
    """Issue 15: SES's limit (40 MiB) is what SMTP accepts; the trace headers added after that
    must not push an accepted message over ingest's limit into the quarantine."""
    head = b"Subject: exactly at the limit\r\n\r\n"
    line = b"x" * 998 + b"\r\n"
    body_size = SES_MAX_MESSAGE_SIZE - len(head)
    body = line * (body_size // len(line))
    body += b"y" * (body_size - len(body) - 2) + b"\r\n"
    message = head + body
    assert len(message) == SES_MAX_MESSAGE_SIZE
    with smtplib.SMTP("127.0.0.1", listen(), timeout=120) as smtp:
        assert smtp.sendmail("s@example.org", [ALICE], message) == {}

    [entry] = store.list_messages(ALICE)
    assert entry.size > SES_MAX_MESSAGE_SIZE  # the trace headers are in it
    assert store.list_quarantined(ALICE) == []


def test_a_message_whose_line_ends_would_outgrow_the_limit_is_refused_not_parked(
    store: Store, listen: Listen
) -> None:
    """Bare LFs become CRLF when stored: SMTP answers 552 rather than accept a message that its
    canonical form would put over the limit (nothing accepted is lost or silently parked)."""
    limit = 256 * 1024  # over the trace allowance (64 KiB) the limit leaves for headers
    port = listen(max_size=limit)
    # SMTP lines end in CRLF (and aiosmtpd reads them so), but may hold bare LFs inside.
    line = b"x\n" * 400 + b"\r\n"
    bare = b"Subject: bare\r\n\r\n" + line * ((limit - 100) // len(line))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rwb")
        replies = [stream.readline()]
        for command in (b"EHLO h", b"MAIL FROM:<s@example.org>", b"RCPT TO:<alice@example.test>"):
            stream.write(command + b"\r\n")
            stream.flush()
            while (reply := stream.readline())[3:4] == b"-":
                pass
            replies.append(reply)
        stream.write(b"DATA\r\n")
        stream.flush()
        assert stream.readline().startswith(b"354")
        stream.write(bare + b".\r\n")
        stream.flush()
        assert stream.readline().startswith(b"552")
    assert store.list_messages(ALICE) == ()
    assert store.list_quarantined(ALICE) == []
