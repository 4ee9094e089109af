"""Storage faults end to end through the daemon: a failing call gets -ERR [SYS/TEMP] (RFC 3206 §4),
the session stays consistent, nothing is lost, and the lease is given back (or left to expire)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.response import StreamingBody
from urllib3.exceptions import ProtocolError

from popd.server import Endpoints
from popdrop.settings import Settings
from popdrop.store import Store
from tests.conftest import AwsClients
from tests.support import RawClient, deliver, running_daemon, take_lease, unstuff

from .conftest import ADDRESS, PASSWORD, StartDaemon, daemon_settings, login
from .faults import Fault, FaultInjector, unretried_store

MESSAGE = b"Subject: hi\r\n\r\nHello.\r\n"


@contextmanager
def faulty_daemon(store: Store, mailbox: str) -> Iterator[tuple[Endpoints, FaultInjector]]:
    """The daemon on clients without botocore retries, as if the retry budget were spent."""
    faulty, faults = unretried_store(store)
    with running_daemon(daemon_settings(lease_wait_seconds=0), faulty) as endpoints:
        yield endpoints, faults


@contextmanager
def logged_in(
    store: Store, mailbox: str, messages: int = 1
) -> Iterator[tuple[RawClient, FaultInjector]]:
    """`messages` delivered, and a session logged in to a daemon on the faulty store."""
    for _ in range(messages):
        deliver(store, MESSAGE, mailbox)
    with faulty_daemon(store, mailbox) as (endpoints, faults):
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        try:
            yield client, faults
        finally:
            client.close()


def _lease_is_free(store: Store) -> bool:
    lease = take_lease(store, ADDRESS, "checker")
    return lease is not None and store.release_lease(lease)


def test_a_listing_that_fails_at_login_answers_sys_temp_and_frees_the_lease(
    store: Store, mailbox: str
) -> None:
    with faulty_daemon(store, mailbox) as (endpoints, faults):
        faults.arm(Fault.FAIL, at=2)  # GetItem profile, UpdateItem lease, Query listing
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"-ERR [SYS/TEMP]")
        assert _lease_is_free(store)
        # RFC 1939 §4: the client may try again, and now it works.
        faults.disarm()
        assert client.command(f"USER {ADDRESS}").startswith(b"+OK")
        assert client.command(f"PASS {PASSWORD}").startswith(b"+OK")
        client.command("QUIT")
        client.close()


def test_a_lease_write_that_fails_answers_sys_temp(store: Store, mailbox: str) -> None:
    with faulty_daemon(store, mailbox) as (endpoints, faults):
        faults.arm(Fault.FAIL, at=1)
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"-ERR [SYS/TEMP]")
        client.close()


def test_a_release_that_failed_is_retried_before_the_next_login_to_that_maildrop(
    store: Store, mailbox: str
) -> None:
    """The daemon's heartbeat keeps a lease whose release failed, so the daemon owes it a release
    (popd/heartbeat.py): the next login to that maildrop here settles it first, and gets in."""
    with faulty_daemon(store, mailbox) as (endpoints, faults):
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        faults.arm(Fault.FAIL, at=0, operation="UpdateItem")  # the release
        assert client.command("QUIT").startswith(b"+OK")
        client.close()
        assert faults.injected == 1
        assert take_lease(store, ADDRESS, "another-daemon") is None  # still held
        faults.disarm()
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert client.command("QUIT").startswith(b"+OK")
        client.close()
    assert _lease_is_free(store)


def test_a_retr_that_fails_answers_sys_temp_and_the_session_goes_on(
    store: Store, mailbox: str
) -> None:
    with logged_in(store, mailbox) as (client, faults):
        faults.arm(Fault.FAIL, at=0)
        assert client.command("RETR 1").startswith(b"-ERR [SYS/TEMP]")
        faults.disarm()
        assert client.command("RETR 1").startswith(b"+OK")
        assert unstuff(client.multiline()) == MESSAGE
        assert client.command("QUIT").startswith(b"+OK")


def test_a_commit_that_fails_answers_sys_temp_deletes_nothing_and_frees_the_lease(
    store: Store, mailbox: str
) -> None:
    with logged_in(store, mailbox, messages=3) as (client, faults):
        for number in (1, 2, 3):
            assert client.command(f"DELE {number}").startswith(b"+OK")
        faults.arm(Fault.FAIL, at=0)  # the entries' transaction
        assert client.command("QUIT").startswith(b"-ERR [SYS/TEMP]")
    assert len(store.list_messages(mailbox)) == 3
    assert _lease_is_free(store)


def test_objects_whose_delete_fails_after_the_commit_are_left_to_gc(
    store: Store, mailbox: str
) -> None:
    """The entries are deleted, so QUIT succeeds (RFC 1939 §6); the objects wait for a sweep."""
    with logged_in(store, mailbox) as (client, faults):
        assert client.command("DELE 1").startswith(b"+OK")
        faults.arm(Fault.FAIL, at=2)  # transaction, reference read, DeleteObjects
        assert client.command("QUIT").startswith(b"+OK")
    assert store.list_messages(mailbox) == ()
    assert len(store.collect_garbage(grace_seconds=3600).deleted) == 1


def test_transient_faults_are_retried_by_botocore_within_a_bound(
    store: Store, mailbox: str
) -> None:
    """The production clients (`Store.from_settings`): two failed attempts of the listing's Query
    are retried with backoff and the login succeeds."""
    deliver(store, MESSAGE, mailbox)
    production = Store.from_settings(Settings(table=store.table, bucket=store.bucket))
    faults = FaultInjector(production._s3, production._dynamodb)
    with running_daemon(daemon_settings(), production) as endpoints:
        faults.arm(Fault.FAIL, at=2, sends=2)
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert faults.injected == 2
        client.command("QUIT")
        client.close()


class _BreakingStream:
    """A response body whose connection breaks after `limit` octets."""

    def __init__(self, real: Any, limit: int) -> None:
        self._real, self._left = real, limit

    def read(self, amount: int | None = None) -> bytes:
        if self._left <= 0:
            raise ProtocolError("connection broken (injected)")
        data = self._real.read(min(amount or self._left, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._real.close()


def test_a_read_ahead_whose_connection_broke_is_resumed_with_a_ranged_get(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_clients: AwsClients
) -> None:
    """The prefetched response sat idle while the client read message 2 (read ahead once the
    client read in order); when it breaks part-way through message 3, the rest comes from a
    ranged GET and the client sees nothing amiss."""
    bodies = [b"Subject: %d\r\n\r\n" % i + b"z" * 200_000 + b"\r\n" for i in (1, 2, 3)]
    for body in bodies:
        deliver(store, body, mailbox)
    gets: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        gets.append(params)

    def after(parsed: dict[str, Any], **_: Any) -> None:
        if len(gets) == 3:  # the read-ahead of message 3
            body = parsed["Body"]
            parsed["Body"] = StreamingBody(_BreakingStream(body, 100_000), body._content_length)

    aws_clients.s3.meta.events.register("provide-client-params.s3.GetObject", record)
    aws_clients.s3.meta.events.register("after-call.s3.GetObject", after)
    with start_daemon() as endpoints:
        client, _ = login(endpoints.pop3_port)
        for number, body in enumerate(bodies, start=1):
            assert client.command(f"RETR {number}").startswith(b"+OK")
            assert unstuff(client.multiline()) == body
        client.command("QUIT")
        client.close()
    assert [params.get("Range") for params in gets] == [None, None, None, "bytes=100000-"]
