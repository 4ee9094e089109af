"""`Store.collect_garbage` (`popdrop gc`) against moto: objects no entry references go, after a
grace period; referenced ones never do; a second sweep finds nothing (DESIGN invariant 8)."""

from __future__ import annotations

import time

import pytest

from popdrop.faces.faults import StorageUnavailable
from popdrop.store import Store
from tests.conftest import AwsClients
from tests.support import delete_messages, object_exists, stored_object

from .conftest import MESSAGE, FileMessage, InjectFault

LATER = 3600.0  # seconds after the objects were written
GRACE = 600.0


def test_an_object_no_entry_references_is_deleted_after_the_grace_period(store: Store) -> None:
    key = store.put_incoming("orphan", MESSAGE)
    report = store.collect_garbage(grace_seconds=GRACE, now=time.time() + LATER)
    assert report.deleted == (key,)
    assert report.objects_examined == 1
    assert not object_exists(store, key)


def test_an_unreferenced_object_within_the_grace_period_is_left_for_its_ingest(
    store: Store,
) -> None:
    """SES stores the message before the ingest function files it: a young object may still be
    waiting for its entries."""
    key = store.put_incoming("in-flight", MESSAGE)
    report = store.collect_garbage(grace_seconds=GRACE)
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
    key = store.put_incoming("orphan", MESSAGE)
    report = store.collect_garbage(grace_seconds=GRACE, dry_run=True, now=time.time() + LATER)
    assert report.deleted == (key,) and report.dry_run
    assert stored_object(store, key) == MESSAGE


def test_a_second_sweep_finds_nothing_more(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    store.put_incoming("orphan", MESSAGE)
    kept = file_message(alice, "m1")
    assert len(store.collect_garbage(grace_seconds=0, now=time.time() + LATER).deleted) == 1
    again = store.collect_garbage(grace_seconds=0, now=time.time() + LATER)
    assert again.deleted == ()
    assert again.objects_examined == 1
    assert stored_object(store, kept.object_key) == MESSAGE
