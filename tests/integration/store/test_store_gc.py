"""`Store.collect_garbage` (`popdrop gc`) against moto: objects no entry references go, after a
grace period; referenced ones never do; a second sweep finds nothing (DESIGN invariant 8). A run
reads the garbage index, not the table or the bucket (issue 13, "gc in O(garbage)")."""

from __future__ import annotations

import time

import pytest

from popdrop.faces.faults import StorageUnavailable
from popdrop.ingest.pipeline import ingest_object
from popdrop.logfmt import now_ms
from popdrop.model import Disposition, Policy
from popdrop.store import Store, schema
from tests.conftest import AwsCall, AwsClients
from tests.support import delete_messages, object_exists, stored_object

from .conftest import MESSAGE, FileMessage, InjectFault

LATER = 3600.0  # seconds after the objects were written
GRACE = 600.0


def unrouted(store: Store, message_id: str) -> str:
    """Store a message for nobody and ingest it, as its event (or the reconcile sweep) would: its
    object is garbage once the grace period has passed."""
    key = store.put_incoming(message_id, b"To: nobody@example.test\r\n\r\nlost\r\n")
    assert ingest_object(store, key, now_ms()).unknown == ("nobody@example.test",)
    return key


def test_an_object_no_mailbox_received_is_deleted_after_the_grace_period(store: Store) -> None:
    key = unrouted(store, "nobody")
    report = store.collect_garbage(grace_seconds=GRACE, now=time.time() + LATER)
    assert report.deleted == (key,)
    assert report.objects_examined == 1
    assert not object_exists(store, key)


def test_an_unreferenced_object_within_the_grace_period_is_left_alone(store: Store) -> None:
    """A later run of the same message (a replay, after a mailbox was created) may still file it."""
    key = unrouted(store, "nobody")
    report = store.collect_garbage(grace_seconds=GRACE)
    assert report.deleted == ()
    assert report.objects_in_grace == 1
    assert object_exists(store, key)


def test_a_message_every_policy_dropped_is_collected_after_the_grace_period(
    store: Store, alice: str
) -> None:
    store.put_policy(alice, Policy(spam=Disposition.DROP))
    data = f"X-SES-Spam-Verdict: FAIL\r\nTo: {alice}\r\n\r\nbuy\r\n".encode()
    key = store.put_incoming("spam", data)
    assert ingest_object(store, key, now_ms()).dropped == (alice,)

    assert store.collect_garbage(grace_seconds=GRACE).objects_in_grace == 1
    report = store.collect_garbage(grace_seconds=GRACE, now=time.time() + LATER)
    assert report.deleted == (key,)
    assert not object_exists(store, key)


def test_a_shared_object_one_mailbox_deleted_is_kept_and_leaves_the_index(
    store: Store, alice: str, bob: str, file_message: FileMessage
) -> None:
    """Alice's QUIT lowered the count of the object Bob still has: gc looks at it once, keeps it,
    and unmarks it, so later runs do not read it again."""
    entry = file_message(alice, "m1", also=[bob])
    delete_messages(store, [entry])

    first = store.collect_garbage(grace_seconds=0)
    again = store.collect_garbage(grace_seconds=0)

    assert (first.objects_examined, first.deleted) == (1, ())
    assert (again.objects_examined, again.deleted) == (0, ())
    assert stored_object(store, entry.object_key) == MESSAGE


def test_a_sweep_with_nothing_to_do_costs_one_query_per_index_shard(
    store: Store, alice: str, file_message: FileMessage, aws_calls: list[AwsCall]
) -> None:
    """However many messages are kept (and were ever deleted): issue 13's target is at most 10
    requests."""
    for n in range(30):
        file_message(alice, f"m{n}")
    delete_messages(store, [file_message(alice, "gone")])
    aws_calls.clear()

    report = store.collect_garbage(grace_seconds=GRACE, now=time.time() + LATER)

    assert (report.objects_examined, report.deleted) == (0, ())
    assert [call.operation for call in aws_calls] == ["Query"] * len(schema.GARBAGE_SHARDS)


def test_a_full_sweep_deletes_an_object_that_was_never_ingested(store: Store) -> None:
    """The index knows only what ingest saw; the full sweep lists the bucket (objects from before
    the index, or a restored bucket). The regular sweep leaves such objects to reconcile."""
    key = store.put_incoming("orphan", MESSAGE)
    assert store.collect_garbage(grace_seconds=GRACE, now=time.time() + LATER).deleted == ()
    report = store.collect_garbage(grace_seconds=GRACE, now=time.time() + LATER, full=True)
    assert report.deleted == (key,)
    assert report.objects_examined == 1
    assert not object_exists(store, key)


def test_a_full_sweep_leaves_an_unreferenced_object_within_the_grace_period_to_its_ingest(
    store: Store,
) -> None:
    """SES stores the message before the ingest function files it: a young object may still be
    waiting for its entries."""
    key = store.put_incoming("in-flight", MESSAGE)
    report = store.collect_garbage(grace_seconds=GRACE, full=True)
    assert report.deleted == ()
    assert report.objects_in_grace == 1
    assert stored_object(store, key) == MESSAGE


def test_a_referenced_object_is_never_deleted(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entry = file_message(alice, "m1")
    report = store.collect_garbage(grace_seconds=0, now=time.time() + LATER)
    assert report.deleted == ()
    assert stored_object(store, entry.object_key) == MESSAGE


def test_an_object_whose_delete_failed_after_its_last_entry_went_is_collected(
    store: Store,
    alice: str,
    file_message: FileMessage,
    inject_fault: InjectFault,
    aws_clients: AwsClients,
) -> None:
    """A commit deleted the entry and dereferenced the object, then S3 failed: the reference item
    counts zero and the object remains, until the sweep."""
    entry = file_message(alice, "m1")
    inject_fault(aws_clients.s3, "DeleteObjects", "InternalError")
    with pytest.raises(StorageUnavailable):
        delete_messages(store, [entry])
    assert stored_object(store, entry.object_key) == MESSAGE

    report = store.collect_garbage(grace_seconds=GRACE)  # no grace for a zero count
    assert report.deleted == (entry.object_key,)
    assert not object_exists(store, entry.object_key)


def test_a_dry_run_reports_and_deletes_nothing(store: Store) -> None:
    key = unrouted(store, "nobody")
    report = store.collect_garbage(grace_seconds=GRACE, dry_run=True, now=time.time() + LATER)
    assert report.deleted == (key,) and report.dry_run
    assert object_exists(store, key)


def test_a_second_sweep_finds_nothing_more(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    unrouted(store, "nobody")
    kept = file_message(alice, "m1")
    assert len(store.collect_garbage(grace_seconds=0, now=time.time() + LATER).deleted) == 1
    again = store.collect_garbage(grace_seconds=0, now=time.time() + LATER)
    assert again.deleted == ()
    assert again.objects_examined == 0
    assert stored_object(store, kept.object_key) == MESSAGE
