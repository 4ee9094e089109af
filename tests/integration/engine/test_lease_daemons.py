"""Exclusive access across daemons (RFC 1939 §8; DESIGN invariant 3), end to end: the second
session gets -ERR [IN-USE], a lease lives as long as its session (kept by its daemon's heartbeat,
with no write per session), a crashed replica's maildrops are free again within the heartbeat's
period, and a holder that lost its lease commits nothing."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import pytest

from popdrop.auth.passwords import hash_password
from popdrop.faces.pop3 import Heartbeat
from popdrop.store import Store, schema
from tests.conftest import AwsCall, AwsClients
from tests.support import deliver, running_daemon, take_lease, wait_for_log

from .conftest import ADDRESS, PASSWORD, StartDaemon, daemon_settings, login, replica
from .faults import Fault, unretried_store

MESSAGE = b"Subject: hi\r\n\r\nHello.\r\n"
SESSIONS = 24


def heartbeats(store: Store, aws_clients: AwsClients) -> list[str]:
    """The ids of every daemon heartbeat in the table."""
    items = aws_clients.dynamodb.scan(TableName=store.table)["Items"]
    prefix = schema.daemon_pk("")
    return [
        item["pk"]["S"].removeprefix(prefix) for item in items if item["pk"]["S"].startswith(prefix)
    ]


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


def _heartbeat_renewed_past(store: Store, aws_clients: AwsClients, moment_ms: int) -> None:
    """Wait (60 s at most) until the daemon's heartbeat has been renewed to last past
    `moment_ms` and that moment has passed: the lease outlived its first period."""
    deadline = time.monotonic() + 60
    while True:
        items = aws_clients.dynamodb.scan(TableName=store.table)["Items"]
        beats = [int(i["alive_until"]["N"]) for i in items if i[schema.SK]["S"] == "#HEARTBEAT"]
        if max(beats, default=0) > moment_ms and time.time() * 1000 > moment_ms:
            return
        assert time.monotonic() < deadline, "the daemon's heartbeat was not renewed"
        time.sleep(0.1)


def test_a_session_keeps_its_lease_past_the_heartbeat_period_while_the_daemon_lives(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_clients: AwsClients
) -> None:
    deliver(store, MESSAGE, mailbox)
    with start_daemon(lease_seconds=3, lease_wait_seconds=0) as endpoints:
        holder, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert holder.command("DELE 1").startswith(b"+OK")
        # Past the first period: only the heartbeat's renewals keep the lease now.
        _heartbeat_renewed_past(store, aws_clients, int(time.time() * 1000) + 3000)
        other, refused = login(endpoints.pop3_port)
        assert refused.startswith(b"-ERR [IN-USE]")
        assert holder.command("QUIT").startswith(b"+OK")
        other.close()
        holder.close()
    assert store.list_messages(mailbox) == ()


def test_a_holder_that_lost_its_lease_commits_nothing_design_invariant_3(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    """Another daemon took the maildrop, as it would once this daemon's heartbeat ran out (it was
    paused or partitioned past its period): the holder's QUIT is answered -ERR [SYS/TEMP]
    (RFC 3206 §4) and its DELE never happens, fenced by the token."""
    deliver(store, MESSAGE, mailbox)
    with start_daemon(lease_seconds=30) as endpoints:
        holder, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert holder.command("DELE 1").startswith(b"+OK")
        taken = take_lease(store, mailbox, "successor", now=time.time() + 31)
        assert taken is not None
        assert holder.command("QUIT").startswith(b"-ERR [SYS/TEMP]")
        holder.close()
        assert len(store.list_messages(mailbox)) == 1
        # The failed session did not clear its successor's lease.
        assert take_lease(store, mailbox, "third", now=time.time() + 1) is None


def test_a_session_whose_daemon_lost_its_heartbeat_does_not_even_try_to_commit(
    start_daemon: StartDaemon,
    store: Store,
    mailbox: str,
    aws_clients: AwsClients,
    aws_calls: list[AwsCall],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The daemon's renewal (every third of POPDROP_LEASE_SECONDS) found its heartbeat run out:
    its sessions know they lost their maildrops; a QUIT neither renews nor writes, only the
    (refused) release is sent."""
    deliver(store, MESSAGE, mailbox)
    with start_daemon(lease_seconds=3) as endpoints:
        holder, _ = login(endpoints.pop3_port)
        assert holder.command("DELE 1").startswith(b"+OK")
        assert take_lease(store, mailbox, "successor", seconds=60, now=time.time() + 4)
        for daemon in heartbeats(store, aws_clients):
            store.end_heartbeat(Heartbeat(daemon, 0, 0))
        wait_for_log(caplog, "heartbeat.lost")
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
        taken = take_lease(store, mailbox, "interloper", seconds=1, now=time.time() + 31)
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
    assert take_lease(store, ADDRESS, "next") is not None


def test_idle_sessions_cost_no_writes_only_the_daemons_heartbeat_does(
    start_daemon: StartDaemon, store: Store, aws_clients: AwsClients
) -> None:
    """Issue 13: an idle session costs no write per minute. While five sessions sit idle in
    TRANSACTION, every write the daemon makes is its one heartbeat's renewal, whatever the number
    of sessions (one per third of POPDROP_LEASE_SECONDS: 6 a minute at the default 30 s)."""
    addresses = [f"idle{n}@example.test" for n in range(5)]
    for address in addresses:
        store.create_mailbox(address, hash_password(PASSWORD))
    writes: list[tuple[str, str]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in ("UpdateItem", "PutItem", "TransactWriteItems", "DeleteItem"):
            writes.append((model.name, str(params.get("Key", params.get("TransactItems")))))

    with start_daemon(lease_seconds=3) as endpoints:
        sessions = [login(endpoints.pop3_port, user=address) for address in addresses]
        assert all(reply.startswith(b"+OK") for _, reply in sessions)
        aws_clients.dynamodb.meta.events.register("provide-client-params.dynamodb.*", record)
        deadline = time.monotonic() + 30
        while len(writes) < 4:  # four renewals: over 3 s, longer than a lease could last alone
            assert time.monotonic() < deadline, "the heartbeat was not renewed"
            time.sleep(0.1)
        idle = list(writes)
        for client, _ in sessions:
            assert client.command("NOOP").startswith(b"+OK")  # every session still holds
            client.command("QUIT")
            client.close()
    assert all(
        name == "UpdateItem" and schema.daemon_pk("") in key and "#LEASE" not in key
        for name, key in idle
    ), idle


def test_a_partitioned_daemon_loses_its_maildrops_and_commits_nothing_design_invariant_3(
    store: Store, mailbox: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon cannot reach DynamoDB to renew its heartbeat: once the heartbeat would have run
    out it gives its sessions up, another daemon takes the maildrop over, and when the partition
    heals the old session's QUIT commits nothing. New logins start a new heartbeat."""
    caplog.set_level(logging.INFO, logger="popd.heartbeat")
    deliver(store, MESSAGE, mailbox)
    faulty, faults = unretried_store(store)
    with running_daemon(daemon_settings(lease_seconds=3, lease_wait_seconds=0), faulty) as ends:
        holder, reply = login(ends.pop3_port)
        assert reply.startswith(b"+OK")
        assert holder.command("DELE 1").startswith(b"+OK")
        faults.arm(Fault.FAIL, times=1000, operation="UpdateItem")  # the heartbeat's renewals
        wait_for_log(caplog, "heartbeat.lost")
        successor = take_lease(store, mailbox, "successor", now=time.time() + 3)
        assert successor is not None  # its heartbeat had run out
        faults.disarm()
        assert holder.command("QUIT").startswith(b"-ERR [SYS/TEMP]")
        holder.close()
        assert len(store.list_messages(mailbox)) == 1
        assert store.release_lease(successor)
        again, reply = login(ends.pop3_port)
        assert reply.startswith(b"+OK")
        assert again.command("QUIT").startswith(b"+OK")
        again.close()
    started = [r for r in caplog.records if r.getMessage() == "heartbeat.started"]
    assert len(started) == 2
