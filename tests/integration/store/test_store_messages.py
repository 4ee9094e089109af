"""Message entries against moto: listing, lookup, and idempotent adding (DESIGN invariants 1, 5)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from popdrop.model import MessageEntry
from popdrop.store import MailboxNotFound, StorageUnavailable, Store, codec, schema
from tests.conftest import AwsCall, AwsClients

from .conftest import ALICE, FileMessage, InjectFault


def _reference_count(store: Store, aws_clients: AwsClients, object_key: str) -> int | None:
    item = aws_clients.dynamodb.get_item(
        TableName=store.table, Key=codec.reference_key(object_key), ConsistentRead=True
    ).get("Item")
    return None if item is None else int(item[codec.REFS]["N"])


def test_adding_a_message_lists_it_and_counts_it_in_the_profile(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "m1")

    assert store.list_messages(alice) == (entry,)
    mailbox = store.get_mailbox(alice)
    assert mailbox is not None
    assert (mailbox.message_count, mailbox.octets) == (1, entry.size)


def test_listing_is_in_arrival_order(store: Store, alice: str, file_message: FileMessage) -> None:
    """The sort key starts with the arrival time, so one Query returns the maildrop in order."""
    late = file_message(alice, "zzz-late", arrived_at=1_700_000_002_000)
    early = file_message(alice, "aaa-early", arrived_at=1_700_000_000_000)
    middle = file_message(alice, "mmm-middle", arrived_at=1_700_000_001_000)

    assert store.list_messages(alice) == (early, middle, late)


def test_a_listing_over_one_megabyte_is_one_paginated_query(
    store: Store, alice: str, aws_clients: AwsClients, aws_calls: list[AwsCall]
) -> None:
    """DynamoDB (and moto) cut Query pages at 1 MB: 300 entries of ~4 KB take two pages."""
    padding = {"padding": {"S": "x" * 4000}}
    entries = [
        MessageEntry(alice, f"m{i:03d}", f"incoming/m{i:03d}", 10, 2, 1_700_000_000_000 + i)
        for i in range(300)
    ]
    for start in range(0, len(entries), 25):
        aws_clients.dynamodb.batch_write_item(
            RequestItems={
                store.table: [
                    {"PutRequest": {"Item": {**codec.entry_item(entry), **padding}}}
                    for entry in entries[start : start + 25]
                ]
            }
        )
    aws_calls.clear()

    assert store.list_messages(alice) == tuple(entries)
    assert [call.operation for call in aws_calls].count("Query") >= 2
    assert {call.operation for call in aws_calls} == {"Query"}


def test_entries_whose_ttl_passed_are_neither_listed_nor_found(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    """moto never expires items, and DynamoDB deletes them up to days late: reads must check."""
    expired, current, unexpiring = (file_message(alice, uid) for uid in ("old", "new", "keep"))
    now = int(time.time())
    for entry, expires_at in ((expired, now - 1), (current, now + 3600)):
        aws_clients.dynamodb.update_item(
            TableName=store.table,
            Key=codec.entry_key(entry),
            UpdateExpression="SET #ttl = :at",
            ExpressionAttributeNames={"#ttl": schema.TTL_ATTRIBUTE},
            ExpressionAttributeValues={":at": {"N": str(expires_at)}},
        )

    assert store.list_messages(alice) == (current, unexpiring)
    assert store.get_message(alice, "old") is None
    assert store.get_message(alice, "new") == current


def test_get_message_finds_an_entry_by_uid_alone(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "uid-42")

    assert store.get_message(alice.upper(), "uid-42") == entry
    assert store.get_message(alice, "uid-43") is None
    assert store.get_message(alice, "not a uid") is None  # RFC 1939 §7: no spaces in a uid


def test_the_same_uid_added_twice_is_one_entry(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    """DESIGN invariant 1: a replayed delivery changes nothing, counters and references included."""
    entry = file_message(alice, "m1")

    assert store.add_message(entry) is False

    assert store.list_messages(alice) == (entry,)
    mailbox = store.get_mailbox(alice)
    assert mailbox is not None and mailbox.message_count == 1
    assert _reference_count(store, aws_clients, entry.object_key) == 1


def test_concurrent_deliveries_of_one_uid_add_exactly_one_entry(store: Store, alice: str) -> None:
    """DESIGN invariant 1 under concurrency: SES or Lambda running the same delivery in parallel."""
    entry = MessageEntry(
        alice, "m1", store.put_incoming("m1", b"x\r\n\r\n"), 5, 5, 1_700_000_000_000
    )
    start = threading.Barrier(8)
    outcomes: list[bool] = []

    def deliver() -> None:
        start.wait()
        outcomes.append(store.add_message(entry))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [False] * 7 + [True]
    assert store.list_messages(alice) == (entry,)
    assert store.get_mailbox(alice).message_count == 1


def test_a_deleted_messages_uid_is_never_delivered_again(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    """RFC 1939 §7 and DESIGN invariant 5: the uid marker outlives the entry."""
    entry = file_message(alice, "m1")
    store.commit_deletions(alice, [entry])

    assert store.add_message(entry) is False
    later = MessageEntry(
        alice, "m1", entry.object_key, entry.size, entry.header_size, 1_800_000_000_000
    )
    assert store.add_message(later) is False
    assert store.list_messages(alice) == ()


def test_a_uid_redelivered_with_another_arrival_time_is_still_a_duplicate(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "m1", arrived_at=1_700_000_000_000)
    replay = MessageEntry(
        alice, "m1", entry.object_key, entry.size, entry.header_size, 1_700_000_009_000
    )

    assert store.add_message(replay) is False
    assert store.list_messages(alice) == (entry,)


def test_adding_to_an_unknown_mailbox_raises_and_writes_nothing(
    store: Store, aws_clients: AwsClients
) -> None:
    entry = MessageEntry(ALICE, "m1", "incoming/m1", 10, 2, 1_700_000_000_000)

    with pytest.raises(MailboxNotFound):
        store.add_message(entry)

    store.create_mailbox(ALICE, "hash")
    assert store.list_messages(ALICE) == ()
    assert _reference_count(store, aws_clients, "incoming/m1") is None
    assert store.add_message(entry) is True  # no marker was left behind either


def test_add_message_is_one_transaction(store: Store, alice: str, aws_calls: list[AwsCall]) -> None:
    """Cost: delivering to one mailbox is a single DynamoDB request."""
    store.add_message(MessageEntry(alice, "m1", "incoming/m1", 10, 2, 1_700_000_000_000))

    assert [call.operation for call in aws_calls] == ["TransactWriteItems"]


def test_a_transaction_conflict_is_retried(
    store: Store, alice: str, aws_clients: AwsClients, inject_fault: InjectFault
) -> None:
    """Concurrent deliveries to one mailbox update the same profile item: DynamoDB cancels one
    with TransactionConflict, which botocore does not retry, so the store does."""
    conflict: dict[str, Any] = {
        "CancellationReasons": [
            {"Code": "None"},
            {"Code": "None"},
            {"Code": "TransactionConflict"},
            {"Code": "None"},
        ]
    }
    sent = inject_fault(
        aws_clients.dynamodb,
        "TransactWriteItems",
        "TransactionCanceledException",
        times=2,
        body=conflict,
    )

    assert store.add_message(MessageEntry(alice, "m1", "incoming/m1", 10, 2, 1_700_000_000_000))
    assert len(sent) == 2
    assert len(store.list_messages(alice)) == 1


def test_conflicts_that_persist_raise_storage_unavailable(
    store: Store, alice: str, aws_clients: AwsClients, inject_fault: InjectFault
) -> None:
    conflict = {"CancellationReasons": [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * 3}
    inject_fault(
        aws_clients.dynamodb,
        "TransactWriteItems",
        "TransactionCanceledException",
        times=99,
        body=conflict,
    )

    with pytest.raises(StorageUnavailable):
        store.add_message(MessageEntry(alice, "m1", "incoming/m1", 10, 2, 1_700_000_000_000))
