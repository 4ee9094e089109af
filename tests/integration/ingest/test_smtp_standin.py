"""Issue 6, "The local SMTP stand-in behaves like SES at the SMTP level", through smtplib: 550 for
recipients that reach no mailbox (RFC 5321 §3.3), aliases, plus-addresses and catch-alls
accepted, 552 over the size limit (RFC 5321 §4.5.3.1.10, advertised by RFC 1870 SIZE), the
Return-Path and Received headers SES adds, and the same ingest code."""

from __future__ import annotations

import asyncio
import smtplib
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
