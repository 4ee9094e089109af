"""Exclusive access across daemons (RFC 1939 §8; DESIGN invariant 3), end to end: the second
session gets -ERR [IN-USE], a lease lives as long as its session, a crashed replica's lease
expires, and a holder that lost its lease commits nothing."""

from __future__ import annotations

import itertools
import threading
import time

from popdrop.store import Store
from tests.conftest import AwsCall
from tests.support import deliver

from .conftest import ADDRESS, PASSWORD, StartDaemon, login, replica

MESSAGE = b"Subject: hi\r\n\r\nHello.\r\n"
SESSIONS = 24


def test_a_second_session_gets_in_use_until_the_first_quits_rfc2449_s8_1_1(
    start_daemon: StartDaemon,
) -> None:
    with start_daemon(lease_wait_seconds=0) as endpoints:
        first, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        second, refused = login(endpoints.pop3_port)
        assert refused.startswith(b"-ERR [IN-USE]")
        assert first.command("QUIT").startswith(b"+OK")
        # RFC 1939 §4: after -ERR the client may try again.
        assert second.command(f"USER {ADDRESS}").startswith(b"+OK")
        assert second.command(f"PASS {PASSWORD}").startswith(b"+OK")
        second.command("QUIT")
        first.close()
        second.close()


def test_a_session_keeps_its_lease_past_the_lease_duration_by_renewing_it(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    deliver(store, MESSAGE, mailbox)
    with start_daemon(lease_seconds=3, lease_wait_seconds=0) as endpoints:
        holder, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert holder.command("DELE 1").startswith(b"+OK")
        time.sleep(4.5)  # longer than the lease: only renewal keeps it
        other, refused = login(endpoints.pop3_port)
        assert refused.startswith(b"-ERR [IN-USE]")
        assert holder.command("QUIT").startswith(b"+OK")
        other.close()
        holder.close()
    assert store.list_messages(mailbox) == ()


def test_a_holder_that_lost_its_lease_commits_nothing_design_invariant_3(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    """The holder was paused past its expiry and another session took the maildrop: its QUIT is
    answered -ERR [SYS/TEMP] (RFC 3206 §4) and its DELE never happens."""
    deliver(store, MESSAGE, mailbox)
    with start_daemon(lease_seconds=30) as endpoints:
        holder, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert holder.command("DELE 1").startswith(b"+OK")
        taken = store.acquire_lease(mailbox, "successor", seconds=30, now=time.time() + 31)
        assert taken is not None
        assert holder.command("QUIT").startswith(b"-ERR [SYS/TEMP]")
        holder.close()
        assert len(store.list_messages(mailbox)) == 1
        # The failed session did not clear its successor's lease.
        assert store.acquire_lease(mailbox, "third", seconds=30, now=time.time() + 1) is None


def test_a_session_whose_renewal_failed_does_not_even_try_to_commit(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """Renewal (every third of POPDROP_LEASE_SECONDS) found the lease gone: the session knows it
    lost the maildrop; its QUIT neither renews nor writes, only the (refused) release is sent."""
    deliver(store, MESSAGE, mailbox)
    with start_daemon(lease_seconds=3) as endpoints:
        holder, _ = login(endpoints.pop3_port)
        assert holder.command("DELE 1").startswith(b"+OK")
        assert store.acquire_lease(mailbox, "successor", seconds=60, now=time.time() + 4)
        time.sleep(1.5)  # one renewal period
        aws_calls.clear()
        assert holder.command("QUIT").startswith(b"-ERR [SYS/TEMP]")
        holder.close()
    assert [call.operation for call in aws_calls] == ["UpdateItem"]
    assert len(store.list_messages(mailbox)) == 1


def test_a_stale_holder_cannot_commit_under_its_successors_lease_in_the_same_daemon(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    """The first session's lease was lost and a second session on the same daemon holds the
    maildrop now: the first one's QUIT must fail on its own, stale token."""
    deliver(store, MESSAGE, mailbox)
    with start_daemon(lease_wait_seconds=0) as endpoints:
        stale, _ = login(endpoints.pop3_port)
        assert stale.command("DELE 1").startswith(b"+OK")
        taken = store.acquire_lease(mailbox, "interloper", seconds=1, now=time.time() + 31)
        assert taken is not None and store.release_lease(taken)
        successor, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert stale.command("QUIT").startswith(b"-ERR [SYS/TEMP]")
        assert successor.command("STAT").startswith(b"+OK 1 ")
        assert successor.command("QUIT").startswith(b"+OK")
        stale.close()
        successor.close()
    assert len(store.list_messages(mailbox)) == 1


def test_concurrent_sessions_over_two_replicas_never_hold_a_maildrop_together(
    start_daemon: StartDaemon, store: Store, mailbox: str, atomic_dynamodb: None
) -> None:
    """Many sessions race for one maildrop through an in-process daemon and a `popdrop serve`
    subprocess: the intervals in which sessions held it never overlap."""
    deliver(store, MESSAGE, mailbox)
    held: list[tuple[float, float]] = []
    refused: list[bytes] = []
    lock = threading.Lock()

    def session(port: int) -> None:
        client, reply = login(port)
        if reply.startswith(b"+OK"):
            start = time.monotonic()  # after the lease was taken
            assert client.command("STAT").startswith(b"+OK 1 ")
            time.sleep(0.05)
            end = time.monotonic()  # before QUIT releases it
            assert client.command("QUIT").startswith(b"+OK")
            with lock:
                held.append((start, end))
        else:
            with lock:
                refused.append(reply)
        client.close()

    with (
        start_daemon(lease_wait_seconds=0.5) as endpoints,
        replica(store, lease_wait_seconds="0.5") as (_, port),
    ):
        ports = [endpoints.pop3_port, port] * (SESSIONS // 2)
        threads = [threading.Thread(target=session, args=(p,)) for p in ports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(held) + len(refused) == SESSIONS
    assert all(reply.startswith(b"-ERR [IN-USE]") for reply in refused)
    assert len(held) >= 2
    intervals = sorted(held)
    overlaps = [(a, b) for a, b in itertools.pairwise(intervals) if b[0] < a[1]]
    assert overlaps == []
    assert len(store.list_messages(mailbox)) == 1


def test_a_killed_replicas_lease_expires_and_the_maildrop_is_served_again(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    with (
        start_daemon(lease_wait_seconds=0) as endpoints,
        replica(store, lease_seconds="3") as (process, port),
    ):
        holder, reply = login(port)
        assert reply.startswith(b"+OK")
        process.kill()  # no release: the lease must run out by itself
        process.wait(30)
        holder.close()
        _, refused = login(endpoints.pop3_port)
        assert refused.startswith(b"-ERR [IN-USE]")
        # Wait for the event (the 3 s lease ran out), with a deadline generous for a loaded machine.
        deadline = time.monotonic() + 60
        client, reply = login(endpoints.pop3_port)
        while reply.startswith(b"-ERR [IN-USE]") and time.monotonic() < deadline:
            client.close()
            time.sleep(0.2)
            client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK"), reply
        client.command("QUIT")
        client.close()


def test_a_dropped_connection_releases_the_lease(start_daemon: StartDaemon, store: Store) -> None:
    """RFC 1939 §6: no UPDATE without QUIT, but the maildrop is given back; a login racing the
    release waits for it (POPDROP_LEASE_WAIT_SECONDS) instead of failing."""
    with start_daemon(lease_wait_seconds=5, lease_seconds=60) as endpoints:
        first, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        first.close()
        second, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        second.command("QUIT")
        second.close()
    # Released, not left to expire: another owner takes it now.
    assert store.acquire_lease(ADDRESS, "next", seconds=30) is not None
