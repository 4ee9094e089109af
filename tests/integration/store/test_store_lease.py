"""The maildrop lease (RFC 1939 §8 exclusive access; DESIGN invariant 3) against moto: one holder,
kept by its daemon's heartbeat, taken over only once that heartbeat ran out (by our own clock), a
fencing token that only grows, and commits that need the lease still held."""

from __future__ import annotations

import time
from typing import Any

import pytest

from popdrop.faces.faults import LeaseLost
from popdrop.model import Address
from popdrop.store import Store
from popdrop.store.lease import lease_key
from tests.conftest import AwsCall, AwsClients
from tests.support import lean, take_lease

from .conftest import FileMessage

LATER = 10_000.0  # seconds: far past any heartbeat these tests start


def test_a_held_maildrop_cannot_be_taken_by_another_session_rfc1939_s8(
    store: Store, alice: str
) -> None:
    first = take_lease(store, alice, "session-1")
    assert first is not None and first.token == 1
    assert take_lease(store, alice, "session-2") is None


def test_two_sessions_of_one_daemon_exclude_each_other_too(store: Store, alice: str) -> None:
    heartbeat = store.start_heartbeat("daemon", seconds=30)
    assert store.acquire_lease(Address(alice), "session-1", heartbeat) is not None
    assert store.acquire_lease(Address(alice), "session-2", heartbeat) is None


def test_the_same_owner_may_ask_again_when_a_reply_was_lost(store: Store, alice: str) -> None:
    first = take_lease(store, alice, "session-1")
    again = take_lease(store, alice, "session-1")
    assert first is not None and again is not None
    assert again.token > first.token


def test_a_crashed_daemons_lease_passes_on_once_its_heartbeat_ran_out(
    store: Store, alice: str
) -> None:
    """The bound on crash recovery is the heartbeat's period: not before, but right after it (by
    our clock: DynamoDB's TTL is late and moto's never fires)."""
    crashed = take_lease(store, alice, "crashed", seconds=5)
    assert crashed is not None
    assert take_lease(store, alice, "next", now=time.time() + 4) is None
    taken = take_lease(store, alice, "next", now=time.time() + 6)
    assert taken is not None and taken.token == crashed.token + 1


def test_a_renewed_heartbeat_keeps_every_lease_of_its_daemon(
    store: Store, alice: str, bob: str
) -> None:
    heartbeat = store.start_heartbeat("daemon", seconds=5)
    leases = [store.acquire_lease(Address(a), "s-" + a, heartbeat) for a in (alice, bob)]
    assert all(lease is not None for lease in leases)
    renewed = store.renew_heartbeat(heartbeat, now=time.time() + 4)
    assert renewed.until_ms > heartbeat.until_ms
    # Renewed at +4 s for 5 s: nobody may take either maildrop at +8 s.
    assert take_lease(store, alice, "other", now=time.time() + 8) is None
    assert take_lease(store, bob, "other", now=time.time() + 8) is None


def test_a_heartbeat_that_ran_out_cannot_be_renewed(store: Store) -> None:
    """Once it ran out another daemon may have taken its maildrops: it never comes back."""
    heartbeat = store.start_heartbeat("daemon", seconds=5)
    with pytest.raises(LeaseLost):
        store.renew_heartbeat(heartbeat, now=time.time() + 6)
    with pytest.raises(LeaseLost):  # not even by a clock that runs behind
        store.renew_heartbeat(heartbeat, now=time.time() + 6)


def test_an_ended_heartbeat_frees_its_daemons_leases_at_once(store: Store, alice: str) -> None:
    heartbeat = store.start_heartbeat("stopping", seconds=30)
    assert store.acquire_lease(Address(alice), "session", heartbeat) is not None
    store.end_heartbeat(heartbeat)
    assert take_lease(store, alice, "next") is not None


def test_a_takeover_never_races_a_live_renewal(
    store: Store, alice: str, aws_clients: AwsClients
) -> None:
    """The heartbeat was read as run out, then renewed (a clock behind ours) before the takeover:
    the takeover's transaction checks the heartbeat again and is cancelled."""
    heartbeat = store.start_heartbeat("slow-clock", seconds=5)
    assert store.acquire_lease(Address(alice), "holder", heartbeat) is not None

    def renew(**_: Any) -> None:
        aws_clients.dynamodb.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", renew
        )
        store.renew_heartbeat(heartbeat, now=time.time() + 4)

    aws_clients.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", renew)
    assert take_lease(store, alice, "next", now=time.time() + 6) is None


def test_a_released_maildrop_is_free_at_once_and_the_token_keeps_growing(
    store: Store, alice: str
) -> None:
    first = take_lease(store, alice, "session-1")
    assert first is not None and store.release_lease(first)
    second = take_lease(store, alice, "session-2")
    assert second is not None and second.token == first.token + 1


def test_a_stale_holder_cannot_release_its_successors_lease(store: Store, alice: str) -> None:
    stale = take_lease(store, alice, "stale", seconds=5)
    assert stale is not None
    successor = take_lease(store, alice, "successor", now=time.time() + 6)
    assert successor is not None
    assert not store.release_lease(stale)
    assert take_lease(store, alice, "third", now=time.time() + 6) is None


def test_a_commit_under_a_held_lease_deletes(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    keep, gone = file_message(alice, "keep"), file_message(alice, "gone")
    lease = take_lease(store, alice, "session")
    assert lease is not None
    store.commit_deletions(lease, [gone])
    assert store.list_messages(alice) == (lean(keep),)


def test_a_partitioned_holder_whose_maildrop_was_taken_over_commits_nothing_design_invariant_3(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    """Its daemon could not renew its heartbeat, another daemon took the maildrop: when the
    partition heals, the old session's commit fails on its stale token."""
    entry = file_message(alice, "m1")
    partitioned = take_lease(store, alice, "partitioned", seconds=5)
    assert partitioned is not None
    assert take_lease(store, alice, "successor", now=time.time() + 6) is not None
    with pytest.raises(LeaseLost):
        store.commit_deletions(partitioned, [entry])
    assert store.list_messages(alice) == (lean(entry),)


def test_a_lease_taken_over_during_the_commit_cancels_the_transaction(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    """The fencing check rides in every transaction: nothing before it protects the maildrop."""
    entries = [file_message(alice, f"m{i}") for i in range(3)]
    lease = take_lease(store, alice, "paused", seconds=5)
    assert lease is not None

    def take_over(**_: Any) -> None:
        aws_clients.dynamodb.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", take_over
        )
        assert take_lease(store, alice, "successor", now=time.time() + LATER)

    aws_clients.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", take_over)
    with pytest.raises(LeaseLost):
        store.commit_deletions(lease, entries)
    assert store.list_messages(alice) == tuple(map(lean, entries))


def test_every_deleting_transaction_carries_the_lease_check(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    entries = [file_message(alice, f"m{i:03d}") for i in range(60)]
    lease = take_lease(store, alice, "session")
    assert lease is not None
    transactions: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        items = params["TransactItems"]
        if any("Delete" in item and "MBX#" in str(item) for item in items):
            transactions.append(items)

    aws_clients.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", record
    )
    store.commit_deletions(lease, entries)
    assert store.list_messages(alice) == ()
    assert len(transactions) == 2  # 60 entries, 49 per transaction
    assert all("ConditionCheck" in items[0] for items in transactions)
    assert all(len(items) <= 100 for items in transactions)


def test_acquiring_and_releasing_a_free_lease_costs_one_write_each(
    store: Store, alice: str, aws_calls: list[AwsCall]
) -> None:
    heartbeat = store.start_heartbeat("daemon", seconds=30)
    aws_calls.clear()
    lease = store.acquire_lease(Address(alice), "session", heartbeat)
    assert lease is not None and store.release_lease(lease)
    assert [call.operation for call in aws_calls] == ["UpdateItem", "UpdateItem"]


def test_a_held_maildrop_costs_a_heartbeat_read_and_a_takeover_one_transaction(
    store: Store, alice: str, aws_calls: list[AwsCall]
) -> None:
    assert take_lease(store, alice, "holder", seconds=5) is not None
    heartbeat = store.start_heartbeat("daemon", seconds=30, now=time.time() + 6)
    aws_calls.clear()
    assert store.acquire_lease(Address(alice), "refused", heartbeat, now=time.time() + 4) is None
    assert [call.operation for call in aws_calls] == ["UpdateItem", "GetItem"]
    aws_calls.clear()
    assert store.acquire_lease(Address(alice), "next", heartbeat, now=time.time() + 6)
    assert [call.operation for call in aws_calls] == ["UpdateItem", "GetItem", "TransactWriteItems"]


def test_a_lease_of_an_earlier_version_is_honoured_until_its_own_expiry(
    store: Store, alice: str, aws_clients: AwsClients
) -> None:
    """A rolling upgrade: a session of the previous version holds the maildrop with a lease of its
    own (`lease_until`, renewed by that session, no daemon). It is left alone until that time,
    then taken over like a dead daemon's, with a greater token (which fences the old session)."""
    until = int((time.time() + 30) * 1000)
    aws_clients.dynamodb.put_item(
        TableName=store.table,
        Item={
            **lease_key(Address(alice)),
            "owner": {"S": "old-session"},
            "lease_until": {"N": str(until)},
            "fencing_token": {"N": "7"},
        },
    )
    assert take_lease(store, alice, "new", now=time.time() + 29) is None
    taken = take_lease(store, alice, "new", now=time.time() + 31)
    assert taken is not None and taken.token == 8


def test_a_daemon_of_the_earlier_version_cannot_take_a_held_lease(
    store: Store, alice: str, aws_clients: AwsClients
) -> None:
    """The previous version took a lease on this condition; a lease held under a heartbeat has no
    `lease_until`, so the condition fails however late its clock is."""
    assert take_lease(store, alice, "new") is not None
    dynamodb = aws_clients.dynamodb
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=store.table,
            Key=lease_key(Address(alice)),
            UpdateExpression="SET #owner = :owner, #until = :until ADD #token :one",
            ConditionExpression="attribute_not_exists(#owner) OR #until <= :now OR #owner = :owner",
            ExpressionAttributeNames={
                "#owner": "owner",
                "#until": "lease_until",
                "#token": "fencing_token",
            },
            ExpressionAttributeValues={
                ":owner": {"S": "old-session"},
                ":until": {"N": str(int((time.time() + LATER) * 1000))},
                ":now": {"N": str(int((time.time() + LATER) * 1000))},
                ":one": {"N": "1"},
            },
        )
