"""Issue 6, "Exactly once": a replayed or duplicated event, a retried invocation after a crash at
any step, and concurrent invocations all end with exactly one entry per recipient mailbox
(DESIGN invariant 1), and ingest's hold on the object is released exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from popdrop.events import ses_event
from popdrop.ingest import ingest_event, ingest_ses_event
from popdrop.store import Store
from popdrop.store.codec import REFS, reference_key
from tests.integration.ingest.conftest import Crash, CrashAt
from tests.support import delete_messages, s3_event, stored_object

ALICE, BOB = "alice@example.test", "bob@example.test"
MESSAGE = b"From: s@example.org\r\nTo: alice@example.test, bob@example.test\r\n\r\nhi\r\n"
ARRIVED = 1_709_294_400_250


@pytest.fixture
def event(store: Store) -> dict[str, object]:
    for address in (ALICE, BOB):
        store.create_mailbox(address, "hash")
    store.put_incoming("msg-1", MESSAGE)
    return ses_event("msg-1", [ALICE, BOB], timestamp_ms=ARRIVED)


def refs(store: Store, key: str = "incoming/msg-1") -> int:
    """The object's reference count, read with a client of our own."""
    item = boto3.client("dynamodb").get_item(TableName=store.table, Key=reference_key(key))
    return int(item["Item"][REFS]["N"]) if "Item" in item else 0


def assert_filed_once(store: Store) -> None:
    for address in (ALICE, BOB):
        assert [entry.uid for entry in store.list_messages(address)] == ["msg-1"]
        assert store.get_mailbox(address).message_count == 1
    assert refs(store) == 2  # one per entry: ingest's own hold was released, exactly once
    assert store.ingest_record("msg-1").status == "done"


# The store calls of one run, in order: BatchGetItem (lookup), GetObject (head), then
# TransactWriteItems: #1 Alice with the record's begin, #2 Bob with its finish.
@pytest.mark.parametrize(
    ("operation", "nth"),
    [
        ("BatchGetItem", 1),
        ("GetObject", 1),
        ("TransactWriteItems", 1),
        ("TransactWriteItems", 2),
    ],
    ids=["lookup", "head", "begin-and-first-mailbox", "second-mailbox-and-finish"],
)
def test_a_retry_after_a_crash_at_any_step_files_each_mailbox_once(
    store: Store, event: dict[str, object], crash_at: CrashAt, operation: str, nth: int
) -> None:
    crash_at(operation, nth)
    with pytest.raises(Crash):
        ingest_ses_event(store, event)

    ingest_ses_event(store, event)  # Lambda's retry

    assert_filed_once(store)


def test_a_crash_between_recipients_then_retr_and_dele_then_the_retry_still_finds_the_object(
    store: Store, event: dict[str, object], crash_at: CrashAt
) -> None:
    """The known hole: run 1 files Alice and dies; Alice's POP3 session RETRs and DELEs the
    message (RFC 1939 §6: QUIT commits); Lambda retries. Ingest's hold kept the object alive, so
    Bob gets it, and Alice does not get it back."""
    crash_at("TransactWriteItems", 2)  # Alice (and begin), then the crash before Bob
    with pytest.raises(Crash):
        ingest_ses_event(store, event)
    delete_messages(store, store.list_messages(ALICE))
    assert stored_object(store, "incoming/msg-1") == MESSAGE  # still held

    [retry] = ingest_ses_event(store, event)

    assert (retry.delivered, retry.duplicate) == ((BOB,), (ALICE,))
    assert store.list_messages(ALICE) == ()
    assert stored_object(store, store.list_messages(BOB)[0].object_key) == MESSAGE
    assert refs(store) == 1  # Bob's entry; the hold is released


def test_a_replay_after_every_recipient_deleted_the_message_is_a_duplicate(
    store: Store, event: dict[str, object]
) -> None:
    """A DLQ redrive days later: the object is gone, the ingest record says done."""
    ingest_ses_event(store, event)
    for address in (ALICE, BOB):
        delete_messages(store, store.list_messages(address))

    [replay] = ingest_ses_event(store, event)

    assert replay.duplicate == (ALICE, BOB) and replay.delivered == ()
    assert store.list_messages(ALICE) == store.list_messages(BOB) == ()


def test_concurrent_invocations_for_one_message_file_it_once(
    store: Store, event: dict[str, object], atomic_dynamodb: None
) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: ingest_ses_event(store, event)[0], range(4)))

    assert sorted(address for r in results for address in r.delivered) == [ALICE, BOB]
    assert_filed_once(store)


def test_the_ses_event_and_an_s3_event_for_one_message_file_it_once(
    store: Store, event: dict[str, object]
) -> None:
    """Both triggers fire (a misconfiguration, or a redrive): the first wins, the other is a
    duplicate, whichever order they come in."""
    notification = s3_event(store.bucket, "incoming/msg-1", len(MESSAGE), timestamp_ms=ARRIVED)
    ingest_event(store, notification)

    [second] = ingest_event(store, event)

    assert second.duplicate == (ALICE, BOB)
    assert_filed_once(store)


# A message for one mailbox: BatchGetItem (lookup), GetObject (head), one TransactWriteItems.
@pytest.mark.parametrize(
    ("operation", "nth"),
    [("BatchGetItem", 1), ("GetObject", 1), ("TransactWriteItems", 1)],
    ids=["lookup", "head", "the-one-transaction"],
)
def test_one_recipient_a_retry_after_a_crash_at_any_step_files_it_once(
    store: Store, event: dict[str, object], crash_at: CrashAt, operation: str, nth: int
) -> None:
    single = ses_event("msg-1", [ALICE], timestamp_ms=ARRIVED)
    crash_at(operation, nth)
    with pytest.raises(Crash):
        ingest_ses_event(store, single)

    [retry] = ingest_ses_event(store, single)
    [replay] = ingest_ses_event(store, single)  # and the event once more, after the write

    assert (retry.delivered, replay.delivered, replay.duplicate) == ((ALICE,), (), (ALICE,))
    assert [entry.uid for entry in store.list_messages(ALICE)] == ["msg-1"]
    assert store.get_mailbox(ALICE).message_count == 1
    assert refs(store) == 1  # the entry's; no hold was ever taken
    assert store.ingest_record("msg-1").status == "done"


def test_one_recipient_concurrent_invocations_file_it_once(
    store: Store, event: dict[str, object], atomic_dynamodb: None
) -> None:
    single = ses_event("msg-1", [ALICE], timestamp_ms=ARRIVED)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: ingest_ses_event(store, single)[0], range(4)))

    assert sorted(len(result.delivered) for result in results) == [0, 0, 0, 1]
    assert store.get_mailbox(ALICE).message_count == 1
    assert refs(store) == 1
