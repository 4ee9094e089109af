"""Message entries against moto: listing and lookup, and filing exactly once (DESIGN invariants 1
and 5) through the path production runs, the ingest pipeline: a retried run, concurrent runs, a
replay after POP3 deleted the message, a resumed run with another arrival time, a mailbox removed
meanwhile, transaction conflicts."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from popdrop.faces.faults import StorageUnavailable, StoreError
from popdrop.ingest import IngestResult, ingest
from popdrop.model import MessageEntry
from popdrop.store import Store, codec, schema
from tests.conftest import AwsCall, AwsClients
from tests.support import delete_messages, lean

from .conftest import ALICE, BOB, MESSAGE, FileMessage, InjectFault

ARRIVED = 1_700_000_000_000


def _reference_count(store: Store, aws_clients: AwsClients, object_key: str) -> int | None:
    item = aws_clients.dynamodb.get_item(
        TableName=store.table, Key=codec.reference_key(object_key), ConsistentRead=True
    ).get("Item")
    return None if item is None else int(item[codec.REFS]["N"])


def test_filing_a_message_lists_it_and_counts_it_in_the_profile(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "m1")

    assert store.list_messages(alice) == (lean(entry),)
    mailbox = store.get_mailbox(alice)
    assert mailbox is not None
    assert (mailbox.message_count, mailbox.octets) == (1, entry.size)


def test_listing_is_in_arrival_order(store: Store, alice: str, file_message: FileMessage) -> None:
    """The sort key starts with the arrival time, so one Query returns the maildrop in order."""
    late = file_message(alice, "zzz-late", arrived_at=1_700_000_002_000)
    early = file_message(alice, "aaa-early", arrived_at=1_700_000_000_000)
    middle = file_message(alice, "mmm-middle", arrived_at=1_700_000_001_000)

    assert store.list_messages(alice) == tuple(map(lean, (early, middle, late)))


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

    assert store.list_messages(alice) == (lean(current), lean(unexpiring))
    assert store.get_message(alice, "old") is None
    assert store.get_message(alice, "new") == current


def test_get_message_finds_an_entry_by_uid_alone(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "uid-42")

    assert store.get_message(alice, "uid-42") == entry
    assert store.get_message(alice, "uid-43") is None
    assert store.get_message(alice, "not a uid") is None  # RFC 1939 §7: no spaces in a uid


def run(store: Store, *recipients: str, arrived_at: int = ARRIVED) -> IngestResult:
    """One ingest run for message `m1`, stored once, as SES's Lambda action starts it."""
    return ingest(
        store,
        message_id="m1",
        object_key=store.incoming_key("m1"),
        recipients=recipients,
        arrived_at=arrived_at,
    )


def crashed_before_finishing(
    store: Store, inject_fault: InjectFault, aws_clients: AwsClients
) -> None:
    """A first run for Alice and Bob files Alice (with the record's begin), then dies before its
    last transaction (Bob's, with `finish`): its ingest record stays `ingesting`, so a retry files
    again and only the filing's conditions decide. (A message for one mailbox has no such moment:
    its one transaction files it and finishes the record.)"""
    store.put_incoming("m1", MESSAGE)
    store.create_mailbox(BOB, "hash-b")
    inject_fault(aws_clients.dynamodb, "TransactWriteItems", "InternalFailure", after=1)
    with pytest.raises(StoreError):
        run(store, ALICE, BOB)
    assert len(store.list_messages(ALICE)) == 1


def assert_filed_once(store: Store, aws_clients: AwsClients, mailbox: str = ALICE) -> None:
    assert [entry.uid for entry in store.list_messages(mailbox)] == ["m1"]
    profile = store.get_mailbox(mailbox)
    assert profile is not None
    assert (profile.message_count, profile.octets) == (1, len(MESSAGE))


def test_a_retried_run_files_the_message_once(
    store: Store, alice: str, aws_clients: AwsClients, inject_fault: InjectFault
) -> None:
    """DESIGN invariant 1: Lambda retries a run that crashed after filing; the second filing is
    recognised as a duplicate, counters and references included."""
    crashed_before_finishing(store, inject_fault, aws_clients)

    retry = run(store, ALICE)

    assert (retry.delivered, retry.duplicate) == ((), (ALICE,))
    assert_filed_once(store, aws_clients)
    assert _reference_count(store, aws_clients, "incoming/m1") == 1  # the entry; the hold is gone


def test_concurrent_runs_for_one_message_file_it_exactly_once(
    store: Store, alice: str, aws_clients: AwsClients, atomic_dynamodb: None
) -> None:
    """DESIGN invariant 1 under concurrency: SES or Lambda running the same event in parallel.
    All but one find the ingest record begun, go on filing, and meet the filing's conditions."""
    store.put_incoming("m1", MESSAGE)
    start = threading.Barrier(8)
    results: list[IngestResult] = []

    def deliver() -> None:
        start.wait()
        results.append(run(store, ALICE))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(result.delivered) for result in results) == [0] * 7 + [1]
    assert all(result.delivered or result.duplicate == (ALICE,) for result in results)
    assert_filed_once(store, aws_clients)
    assert _reference_count(store, aws_clients, "incoming/m1") == 1


def test_a_deleted_messages_uid_is_never_filed_again(
    store: Store, alice: str, aws_clients: AwsClients, inject_fault: InjectFault
) -> None:
    """RFC 1939 §7 and DESIGN invariant 5: the first run died before finishing, Alice's POP3
    session retrieved and deleted the message, then Lambda retried: the uid marker outlives the
    entry, so the message does not come back."""
    crashed_before_finishing(store, inject_fault, aws_clients)
    delete_messages(store, store.list_messages(ALICE))

    retry = run(store, ALICE)

    assert retry.duplicate == (ALICE,)
    assert store.list_messages(ALICE) == ()


def test_a_run_resumed_with_another_arrival_time_is_still_a_duplicate(
    store: Store, alice: str, aws_clients: AwsClients, inject_fault: InjectFault
) -> None:
    """The reconcile sweep resumes a dead run with the time the run began, not SES's: another
    entry key, the same uid. The marker makes it a duplicate."""
    crashed_before_finishing(store, inject_fault, aws_clients)
    [original] = store.list_messages(ALICE)

    resumed = run(store, ALICE, arrived_at=ARRIVED + 9_000)

    assert resumed.duplicate == (ALICE,)
    assert store.list_messages(ALICE) == (original,)
    assert_filed_once(store, aws_clients)


def test_filing_into_a_mailbox_removed_meanwhile_writes_nothing_for_it(
    store: Store, alice: str, bob: str, aws_clients: AwsClients
) -> None:
    """The recipients were resolved, then Alice's mailbox was removed before her filing: it
    reports her unknown and leaves no entry, no counter and no uid marker behind (a later
    mailbox of that name may receive the message); Bob still gets his copy."""
    store.put_incoming("m1", MESSAGE)
    transactions = [0]
    remover = Store(
        s3=boto3.client("s3"),
        dynamodb=boto3.client("dynamodb"),
        table=store.table,
        bucket=store.bucket,
        incoming_prefix=store.incoming_prefix,
    )

    def remove_alice_before_her_filing(model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            transactions[0] += 1
            if transactions[0] == 1:  # before Alice's filing (which would begin the record)
                remover.remove_mailbox(ALICE)

    aws_clients.dynamodb.meta.events.register("before-call.*.*", remove_alice_before_her_filing)

    result = run(store, ALICE, BOB)

    assert (result.unknown, result.delivered) == ((ALICE,), (BOB,))
    marker = aws_clients.dynamodb.get_item(
        TableName=store.table, Key=codec.marker_key(ALICE, "m1"), ConsistentRead=True
    )
    assert "Item" not in marker
    assert store.get_mailbox(ALICE) is None
    assert _reference_count(store, aws_clients, "incoming/m1") == 1  # Bob's entry only


def test_filing_costs_one_transaction_per_mailbox(
    store: Store, alice: str, bob: str, aws_calls: list[AwsCall]
) -> None:
    """Cost: one lookup, one ranged GET, one transaction per mailbox (the first also begins the
    ingest record, the last finishes it)."""
    store.put_incoming("m1", MESSAGE)
    aws_calls.clear()

    run(store, ALICE, BOB)

    assert [call.operation for call in aws_calls] == [
        "BatchGetItem",
        "GetObject",
        *["TransactWriteItems"] * 2,
    ]


def conflict_on_filing(
    store: Store, inject_fault: InjectFault, aws_clients: AwsClients, times: int
) -> list[str]:
    """Concurrent deliveries to one mailbox update its profile item: DynamoDB cancels one with
    TransactionConflict (on the profile's counters, the fourth item of a one-mailbox filing:
    record, entry, marker, profile, reference)."""
    store.put_incoming("m1", MESSAGE)
    conflict: dict[str, Any] = {
        "CancellationReasons": [
            {"Code": "None"},
            {"Code": "None"},
            {"Code": "None"},
            {"Code": "TransactionConflict"},
            {"Code": "None"},
        ]
    }
    return inject_fault(
        aws_clients.dynamodb,
        "TransactWriteItems",
        "TransactionCanceledException",
        times=times,
        body=conflict,
    )


def test_a_transaction_conflict_is_retried(
    store: Store, alice: str, aws_clients: AwsClients, inject_fault: InjectFault
) -> None:
    """botocore does not retry TransactionConflict, so the store does."""
    sent = conflict_on_filing(store, inject_fault, aws_clients, times=2)

    assert run(store, ALICE).delivered == (ALICE,)
    assert len(sent) == 2
    assert_filed_once(store, aws_clients)


def test_conflicts_that_persist_raise_storage_unavailable(
    store: Store, alice: str, aws_clients: AwsClients, inject_fault: InjectFault
) -> None:
    conflict_on_filing(store, inject_fault, aws_clients, times=99)

    with pytest.raises(StorageUnavailable):
        run(store, ALICE)
    assert store.list_messages(ALICE) == ()
