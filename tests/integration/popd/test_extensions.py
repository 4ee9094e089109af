"""The daemon's RFC 2449 / RFC 3206 / APOP behaviour and its limits, end to end on the moto stack.

APOP (RFC 1939 §7), LOGIN-DELAY enforced across replicas (RFC 2449 §6.8), [SYS/PERM] for a message
gone for good (RFC 3206 §4), the per-address session limit and the maximum session length.
"""

from __future__ import annotations

import hashlib
import logging
import poplib
import re
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from popd.server import Endpoints
from popdrop.auth.passwords import hash_password
from popdrop.store import Store
from tests.conftest import AwsClients
from tests.integration.popd.conftest import ADDRESS, PASSWORD
from tests.support import RawClient, daemon_settings, deliver, logout_line, running_daemon

SECRET = "tanstaaf"  # RFC 1939 §7's example secret
MESSAGE = b"From: a@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"


@pytest.fixture
def mailbox(store: Store) -> Store:
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    return store


@contextmanager
def start(store: Store, ca: trustme.CA, tmp_path: Path, **overrides: object) -> Iterator[Endpoints]:
    with running_daemon(daemon_settings(ca, tmp_path, **overrides), store) as endpoints:
        yield endpoints


def greeted(port: int) -> tuple[RawClient, str]:
    client = RawClient(port)
    greeting = client.line()
    assert greeting.startswith(b"+OK")
    return client, greeting.decode()


def logged_in(port: int) -> RawClient:
    client, _ = greeted(port)
    client.command(f"USER {ADDRESS}")
    assert client.command(f"PASS {PASSWORD}").startswith(b"+OK")
    return client


def login(port: int) -> bytes:
    client, _ = greeted(port)
    client.command(f"USER {ADDRESS}")
    reply = client.command(f"PASS {PASSWORD}")
    if reply.startswith(b"+OK"):
        assert client.command("QUIT").startswith(b"+OK")
    client.close()
    return reply


# APOP (RFC 1939 §7)


def apop_digest(greeting: str, secret: str) -> str:
    match = re.search(r"<[^>]+>", greeting)
    assert match is not None, greeting
    return hashlib.md5((match.group(0) + secret).encode()).hexdigest()


def test_apop_logs_in_with_the_digest_over_this_greetings_timestamp_rfc1939_s7(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    mailbox.set_apop_secret(ADDRESS, SECRET)
    deliver(mailbox, MESSAGE, ADDRESS)
    with start(mailbox, ca, tmp_path, apop=True, plaintext_auth="never") as endpoints:
        client, greeting = greeted(endpoints.pop3_port)
        reply = client.command(f"APOP {ADDRESS} {apop_digest(greeting, SECRET)}")
        assert reply == b"+OK Logged in.\r\n"
        assert client.command("STAT") == f"+OK 1 {len(MESSAGE)}\r\n".encode()
        client.close()


def test_each_connection_gets_a_fresh_timestamp_so_a_digest_cannot_be_replayed_rfc1939_s7(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    mailbox.set_apop_secret(ADDRESS, SECRET)
    with start(mailbox, ca, tmp_path, apop=True) as endpoints:
        first, greeting = greeted(endpoints.pop3_port)
        second, other = greeted(endpoints.pop3_port)
        assert greeting != other
        replayed = second.command(f"APOP {ADDRESS} {apop_digest(greeting, SECRET)}")
        assert replayed == b"-ERR [AUTH] Authentication failed.\r\n"
        first.close()
        second.close()


def test_apop_failures_look_alike_whatever_failed_rfc1939_s7_rfc3206_s5(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    """A wrong secret, an unknown mailbox and a mailbox without an APOP secret: one reply."""
    mailbox.create_mailbox("nosecret@example.test", hash_password(PASSWORD))
    mailbox.set_apop_secret(ADDRESS, SECRET)
    replies = set()
    with start(mailbox, ca, tmp_path, apop=True) as endpoints:
        for user, secret in (
            (ADDRESS, "wrong"),
            ("nobody@example.test", SECRET),
            ("nosecret@example.test", SECRET),
            ("not-an-address", SECRET),
        ):
            client, greeting = greeted(endpoints.pop3_port)
            replies.add(client.command(f"APOP {user} {apop_digest(greeting, secret)}"))
            client.close()
    assert replies == {b"-ERR [AUTH] Authentication failed.\r\n"}


def test_poplib_logs_in_with_apop_and_the_logout_line_says_so_rfc1939_s7(
    mailbox: Store, ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="popd")
    mailbox.set_apop_secret(ADDRESS, SECRET)
    deliver(mailbox, MESSAGE, ADDRESS)
    with start(mailbox, ca, tmp_path, apop=True) as endpoints:
        client = poplib.POP3("127.0.0.1", endpoints.pop3_port, timeout=10)
        digest = apop_digest(client.getwelcome().decode(), SECRET)
        assert client.apop(ADDRESS, SECRET).startswith(b"+OK")
        _, lines, _ = client.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == MESSAGE
        client.quit()
        fields = logout_line(caplog)
    assert (fields["user"], fields["method"], fields["retr"]) == (ADDRESS, "apop", 1)
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert SECRET not in logged and digest not in logged


def test_without_the_setting_there_is_no_timestamp_and_apop_is_refused_rfc1939_s7(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    mailbox.set_apop_secret(ADDRESS, SECRET)
    with start(mailbox, ca, tmp_path) as endpoints:
        client, greeting = greeted(endpoints.pop3_port)
        assert "<" not in greeting
        assert client.command(f"APOP {ADDRESS} {'0' * 32}") == b"-ERR APOP not available.\r\n"
        client.close()


# LOGIN-DELAY (RFC 2449 §6.8, §8.1.2)


def test_a_second_login_within_the_delay_is_refused_by_every_replica_rfc2449_s8_1_2(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    """The last login time lives in DynamoDB, so another popd replica refuses too."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        start(mailbox, ca, tmp_path / "a", login_delay=3600) as one,
        start(mailbox, ca, tmp_path / "b", login_delay=3600) as other,
    ):
        client, _ = greeted(one.pop3_port)
        assert b"LOGIN-DELAY 3600\r\n" in capa(client)
        client.close()
        assert login(one.pop3_port) == b"+OK Logged in.\r\n"
        refused = b"-ERR [LOGIN-DELAY] Wait 3600 seconds between logins.\r\n"
        assert login(one.pop3_port) == refused
        assert login(other.pop3_port) == refused


def test_a_failed_login_does_not_start_the_delay_rfc2449_s6_8(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    with start(mailbox, ca, tmp_path, login_delay=3600) as endpoints:
        client, _ = greeted(endpoints.pop3_port)
        client.command(f"USER {ADDRESS}")
        assert client.command("PASS wrong").startswith(b"-ERR [AUTH]")
        client.close()
        assert login(endpoints.pop3_port) == b"+OK Logged in.\r\n"


def test_without_a_delay_logins_follow_each_other_freely_rfc2449_s6_8(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    with start(mailbox, ca, tmp_path) as endpoints:
        assert login(endpoints.pop3_port) == login(endpoints.pop3_port) == b"+OK Logged in.\r\n"


# CAPA and response codes (RFC 2449 §5, §6.7; RFC 3206)


def capa(client: RawClient) -> bytes:
    assert client.command("CAPA").startswith(b"+OK")
    return client.multiline()


def test_capa_announces_expire_never_in_both_states_rfc2449_s5_s6_7(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    with start(mailbox, ca, tmp_path) as endpoints:
        client, _ = greeted(endpoints.pop3_port)
        before = capa(client)
        client.command(f"USER {ADDRESS}")
        client.command(f"PASS {PASSWORD}")
        after = capa(client)
        assert b"EXPIRE NEVER\r\n" in before and b"EXPIRE NEVER\r\n" in after
        # RFC 2449 §5: what AUTHORIZATION offers (STLS included) is announced in both states.
        assert b"STLS\r\n" in before
        assert before == after
        client.close()


def test_a_message_whose_object_is_gone_gets_sys_perm_rfc3206_s4(
    mailbox: Store, ca: trustme.CA, tmp_path: Path, aws_clients: AwsClients
) -> None:
    deliver(mailbox, MESSAGE, ADDRESS)
    [entry] = mailbox.list_messages(ADDRESS)
    aws_clients.s3.delete_object(Bucket=mailbox.bucket, Key=entry.object_key)
    with start(mailbox, ca, tmp_path) as endpoints:
        client = logged_in(endpoints.pop3_port)
        assert client.command("RETR 1") == b"-ERR [SYS/PERM] Message unavailable.\r\n"
        assert client.command("NOOP") == b"+OK\r\n"
        client.close()


# Limits


def test_sessions_over_the_per_address_limit_are_refused_with_sys_temp(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    with start(mailbox, ca, tmp_path, max_sessions_per_address=2) as endpoints:
        first, _ = greeted(endpoints.pop3_port)
        second, _ = greeted(endpoints.pop3_port)
        third = RawClient(endpoints.pop3_port)
        assert third.line() == b"-ERR [SYS/TEMP] Too many sessions from your address.\r\n"
        assert third.sock.recv(1) == b""  # and closed
        third.close()
        assert first.command("QUIT").startswith(b"+OK")
        assert first.sock.recv(1) == b""
        first.close()
        fourth, _ = greeted(endpoints.pop3_port)  # a slot is free again
        fourth.close()
        second.close()


def test_a_client_that_stops_reading_mid_message_is_dropped_without_commit(
    mailbox: Store, ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The idle timeout covers writes too: a stalled reader cannot hold a session forever."""
    caplog.set_level(logging.INFO, logger="popd")
    deliver(mailbox, MESSAGE, ADDRESS)
    deliver(mailbox, b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 16_000, ADDRESS)
    with start(mailbox, ca, tmp_path, idle_timeout=1) as endpoints:
        client = logged_in(endpoints.pop3_port)
        client.send(b"DELE 1\r\nRETR 2\r\n")  # and never read the 16 MB reply
        assert logout_line(caplog)["outcome"] == "write-timeout"
        client.close()
    assert len(mailbox.list_messages(ADDRESS)) == 2  # DESIGN invariant 2


@pytest.mark.parametrize(
    ("limit", "reply", "outcome"),
    [
        ({"idle_timeout": 1}, b"-ERR Autologout; idle for too long.\r\n", "idle-timeout"),
        (
            # Long enough for a login on a loaded machine: the DELE must land inside it.
            {"max_session_seconds": 5},
            b"-ERR [SYS/TEMP] Session time limit reached.\r\n",
            "session-limit",
        ),
    ],
    ids=["idle", "session-length"],
)
def test_a_session_past_a_time_limit_is_closed_without_commit_rfc1939_s3(
    mailbox: Store,
    ca: trustme.CA,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    limit: dict[str, int],
    reply: bytes,
    outcome: str,
) -> None:
    """RFC 1939 §3 autologout while the server waits for a command, and the session length
    limit; either way nothing is committed (DESIGN invariant 2)."""
    caplog.set_level(logging.INFO, logger="popd")
    deliver(mailbox, MESSAGE, ADDRESS)
    with start(mailbox, ca, tmp_path, **limit) as endpoints:
        connected = time.monotonic()
        client = logged_in(endpoints.pop3_port)
        assert client.command("DELE 1").startswith(b"+OK")
        assert client.line() == reply
        # Not before the limit (a bound, not a timing); the reply itself is the event awaited.
        assert time.monotonic() - connected >= min(limit.values()) - 0.1
        assert client.sock.recv(1) == b""
        client.close()
        assert logout_line(caplog)["outcome"] == outcome
    assert len(mailbox.list_messages(ADDRESS)) == 1


def test_the_idle_timer_restarts_with_every_command_rfc1939_s3(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    """The daemon checks the idle limit with one timer per connection that moves only when it
    fires: a client that keeps talking for longer than the timeout, in commands closer together
    than it, is never logged out."""
    with start(mailbox, ca, tmp_path, idle_timeout=2) as endpoints:
        client = logged_in(endpoints.pop3_port)
        started = time.monotonic()
        # Pauses a tenth of the timeout (ample margin on a loaded machine) for 2.5 timeouts: the
        # timer fires and moves at least twice.
        while time.monotonic() - started < 5:
            time.sleep(0.2)
            assert client.command("NOOP") == b"+OK\r\n"
        assert client.command("QUIT").startswith(b"+OK")
        client.close()


def test_a_connection_that_never_logs_in_is_closed_after_the_login_limit(
    mailbox: Store, ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15: a client that keeps the idle timer at bay (a CAPA now and then) but never logs in
    is closed after POPDROP_LOGIN_TIMEOUT, not after the hour a session may last."""
    caplog.set_level(logging.INFO, logger="popd")
    with start(mailbox, ca, tmp_path, login_timeout=1, idle_timeout=30) as endpoints:
        client, _ = greeted(endpoints.pop3_port)
        deadline = time.monotonic() + 30  # a generous deadline for the event awaited
        reply = b""
        while not reply and time.monotonic() < deadline:
            if select.select([client.sock], [], [], 0.2)[0]:  # the server spoke unasked
                reply = client.line()
                continue
            answer = client.command("CAPA")  # keeps the idle timer at bay
            if answer.startswith(b"+OK"):
                client.multiline()
            else:
                reply = answer
        assert reply == b"-ERR Too long without logging in.\r\n"
        assert client.sock.recv(1) == b""
        client.close()
        assert logout_line(caplog)["outcome"] == "login-timeout"


def test_the_login_limit_ends_with_the_login(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    """A session that logged in is held to the idle timeout and the session limit only."""
    # The login limit leaves a loaded machine ample time to log in.
    with start(mailbox, ca, tmp_path, login_timeout=5, idle_timeout=30) as endpoints:
        connected = time.monotonic()
        client = logged_in(endpoints.pop3_port)
        while time.monotonic() - connected < 6:  # past the login limit, busy all along
            assert client.command("NOOP") == b"+OK\r\n"
        assert client.command("QUIT").startswith(b"+OK")
        client.close()


def test_unauthenticated_sessions_per_address_are_bounded_sys_temp(
    mailbox: Store, ca: trustme.CA, tmp_path: Path
) -> None:
    """Issue 15: the failure penalty bounds the guess rate per address only if an address cannot
    open guessing sessions without limit; a session that logs in frees its place."""
    with start(mailbox, ca, tmp_path, max_unauthenticated_per_address=2) as endpoints:
        first, _ = greeted(endpoints.pop3_port)
        second, _ = greeted(endpoints.pop3_port)
        third = RawClient(endpoints.pop3_port)
        assert third.line() == (
            b"-ERR [SYS/TEMP] Too many connections logging in from your address.\r\n"
        )
        assert third.sock.recv(1) == b""
        third.close()
        first.command(f"USER {ADDRESS}")
        assert first.command(f"PASS {PASSWORD}") == b"+OK Logged in.\r\n"
        fourth, _ = greeted(endpoints.pop3_port)  # the login freed a place
        for client in (first, second, fourth):
            client.close()
