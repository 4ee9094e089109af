"""The maildrop lease (RFC 1939 §8 exclusive access; DESIGN invariant 3) against moto: one holder,
expiry by our own clock, a fencing token that only grows, and commits that need a valid lease."""

from __future__ import annotations

import time
from typing import Any

import pytest

from popdrop.faces.faults import LeaseLost
from popdrop.store import Store
from tests.conftest import AwsCall, AwsClients

from .conftest import FileMessage

LATER = 10_000.0  # seconds: far past any lease these tests take


def test_a_held_maildrop_cannot_be_taken_by_another_session_rfc1939_s8(
    store: Store, alice: str
) -> None:
    first = store.acquire_lease(alice, "session-1", seconds=30)
    assert first is not None and first.token == 1
    assert store.acquire_lease(alice, "session-2", seconds=30) is None


def test_the_same_owner_may_ask_again_when_a_reply_was_lost(store: Store, alice: str) -> None:
    first = store.acquire_lease(alice, "session-1", seconds=30)
    again = store.acquire_lease(alice, "session-1", seconds=30)
    assert first is not None and again is not None
    assert again.token > first.token


def test_an_expired_lease_passes_to_the_next_session_with_a_greater_token(
    store: Store, alice: str
) -> None:
    """A crashed holder's lease expires after its duration (checked by our clock: DynamoDB's TTL
    is late and moto's never fires)."""
    crashed = store.acquire_lease(alice, "crashed", seconds=5)
    assert crashed is not None
    assert store.acquire_lease(alice, "next", seconds=5, now=time.time() + 4) is None
    taken = store.acquire_lease(alice, "next", seconds=5, now=time.time() + 6)
    assert taken is not None and taken.token == crashed.token + 1


def test_a_released_maildrop_is_free_at_once_and_the_token_keeps_growing(
    store: Store, alice: str
) -> None:
    first = store.acquire_lease(alice, "session-1", seconds=30)
    assert first is not None and store.release_lease(first)
    second = store.acquire_lease(alice, "session-2", seconds=30)
    assert second is not None and second.token == first.token + 1


def test_a_stale_holder_cannot_release_its_successors_lease(store: Store, alice: str) -> None:
    stale = store.acquire_lease(alice, "stale", seconds=5)
    assert stale is not None
    successor = store.acquire_lease(alice, "successor", seconds=30, now=time.time() + 6)
    assert successor is not None
    assert not store.release_lease(stale)
    assert store.acquire_lease(alice, "third", seconds=30, now=time.time() + 6) is None


def test_renewal_extends_a_valid_lease_and_fails_once_it_is_lost(store: Store, alice: str) -> None:
    lease = store.acquire_lease(alice, "session-1", seconds=5)
    assert lease is not None
    renewed = store.renew_lease(lease, now=time.time() + 4)
    assert renewed.until_ms > lease.until_ms
    # Renewed at +4 s for 5 s: nobody may take it at +8 s.
    assert store.acquire_lease(alice, "session-2", seconds=5, now=time.time() + 8) is None
    with pytest.raises(LeaseLost):
        store.renew_lease(renewed, now=time.time() + LATER)


def test_a_commit_under_a_valid_lease_deletes(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    keep, gone = file_message(alice, "keep"), file_message(alice, "gone")
    lease = store.acquire_lease(alice, "session", seconds=30)
    assert lease is not None
    store.commit_deletions(lease, [gone])
    assert store.list_messages(alice) == (keep,)


def test_an_expired_holder_commits_nothing_design_invariant_3(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "m1")
    lease = store.acquire_lease(alice, "paused", seconds=5, now=time.time() - 60)
    assert lease is not None
    with pytest.raises(LeaseLost):
        store.commit_deletions(lease, [entry])
    assert store.list_messages(alice) == (entry,)


def test_a_holder_whose_lease_was_taken_over_commits_nothing(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "m1")
    paused = store.acquire_lease(alice, "paused", seconds=5)
    assert paused is not None
    assert store.acquire_lease(alice, "successor", seconds=30, now=time.time() + 6) is not None
    with pytest.raises(LeaseLost):
        store.commit_deletions(paused, [entry])
    assert store.list_messages(alice) == (entry,)


def test_a_lease_lost_between_renewal_and_transaction_cancels_the_transaction(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    """The fencing check rides in every transaction: the renewal at the start of the commit is
    not what protects the maildrop, the ConditionCheck is."""
    entries = [file_message(alice, f"m{i}") for i in range(3)]
    lease = store.acquire_lease(alice, "paused", seconds=5)
    assert lease is not None

    def take_over(**_: Any) -> None:
        aws_clients.dynamodb.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", take_over
        )
        assert store.acquire_lease(alice, "successor", seconds=30, now=time.time() + LATER)

    aws_clients.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", take_over)
    with pytest.raises(LeaseLost):
        store.commit_deletions(lease, entries)
    assert store.list_messages(alice) == tuple(entries)


def test_every_deleting_transaction_carries_the_lease_check(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    entries = [file_message(alice, f"m{i:03d}") for i in range(60)]
    lease = store.acquire_lease(alice, "session", seconds=30)
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


def test_acquiring_a_lease_costs_one_request(
    store: Store, alice: str, aws_calls: list[AwsCall]
) -> None:
    aws_calls.clear()
    lease = store.acquire_lease(alice, "session", seconds=30)
    assert lease is not None and store.release_lease(lease)
    assert [call.operation for call in aws_calls] == ["UpdateItem", "UpdateItem"]
