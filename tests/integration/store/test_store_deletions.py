"""commit_deletions, the POP3 UPDATE state (RFC 1939 §6), against moto: entries, counters,
object references (DESIGN invariant 8) and re-runs after a failure part-way. Every commit runs
under the maildrop's lease, as the daemon's does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from popdrop.faces.faults import MailboxNotFound, StoreError
from popdrop.model import Policy
from popdrop.store import Store
from tests.conftest import AwsCall, AwsClients
from tests.support import delete_messages, lean, object_exists, stored_object, take_lease

from .conftest import MESSAGE, FileMessage, InjectFault


def test_commit_removes_the_entries_and_decrements_the_counters(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    first, second, third = (file_message(alice, f"m{i}") for i in range(3))

    delete_messages(store, [first, third])

    assert store.list_messages(alice) == (lean(second),)
    mailbox = store.get_mailbox(alice)
    assert mailbox is not None
    assert (mailbox.message_count, mailbox.octets) == (1, second.size)
    assert not object_exists(store, first.object_key)
    assert stored_object(store, second.object_key) == MESSAGE


def test_an_object_is_deleted_only_with_its_last_reference(
    store: Store, alice: str, bob: str, file_message: FileMessage
) -> None:
    """DESIGN invariant 8: one object serves every recipient and goes when the last entry does."""
    for_alice = file_message(alice, "shared", also=[bob])
    for_bob = store.get_message(bob, "shared")
    assert for_bob is not None and for_bob.object_key == for_alice.object_key

    delete_messages(store, [for_alice])
    assert stored_object(store, for_bob.object_key) == MESSAGE

    delete_messages(store, [for_bob])
    assert not object_exists(store, for_bob.object_key)


def test_running_a_commit_again_changes_nothing(
    store: Store, alice: str, bob: str, file_message: FileMessage
) -> None:
    """Entries already gone are skipped, not dereferenced twice: the object Bob still needs stays
    and Alice's counters do not go negative."""
    for_alice = file_message(alice, "shared", also=[bob])

    delete_messages(store, [for_alice])
    delete_messages(store, [for_alice])

    assert stored_object(store, for_alice.object_key) == MESSAGE
    mailbox = store.get_mailbox(alice)
    assert mailbox is not None and (mailbox.message_count, mailbox.octets) == (0, 0)


def test_a_commit_interrupted_between_transactions_is_finished_by_a_rerun(
    store: Store,
    alice: str,
    file_message: FileMessage,
    aws_clients: AwsClients,
    inject_fault: InjectFault,
) -> None:
    """60 deletions take two transactions (at most 100 items each); the second one fails."""
    entries = [file_message(alice, f"m{i:02d}") for i in range(61)]
    keep = entries.pop()
    inject_fault(aws_clients.dynamodb, "TransactWriteItems", "InternalFailure", after=1)

    with pytest.raises(StoreError):
        delete_messages(store, entries)
    assert len(store.list_messages(alice)) == 1 + 60 - 49  # the first transaction's 49 are gone

    delete_messages(store, entries)

    assert store.list_messages(alice) == (lean(keep),)
    mailbox = store.get_mailbox(alice)
    assert mailbox is not None and (mailbox.message_count, mailbox.octets) == (1, keep.size)
    for entry in entries:
        assert not object_exists(store, entry.object_key)


def test_a_commit_interrupted_before_deleting_objects_is_finished_by_a_rerun(
    store: Store,
    alice: str,
    file_message: FileMessage,
    aws_clients: AwsClients,
    inject_fault: InjectFault,
) -> None:
    """The entries are gone and the S3 delete failed: the reference items stay at zero until the
    objects are deleted, so a re-run (or `popdrop gc`) finds them and deletes the objects."""
    entry = file_message(alice, "m1")
    inject_fault(aws_clients.s3, "DeleteObjects", "AccessDenied")

    with pytest.raises(StoreError):
        delete_messages(store, [entry])
    assert stored_object(store, entry.object_key) == MESSAGE

    delete_messages(store, [entry])

    assert not object_exists(store, entry.object_key)


def test_a_commit_costs_one_transaction_per_49_entries_and_batches_the_object_deletes(
    store: Store, alice: str, file_message: FileMessage, aws_calls: list[AwsCall]
) -> None:
    """Cost: 60 deletions are 2 entry transactions (each with the lease's fencing check), 1
    consistent read of the reference counts, 1 DeleteObjects and 1 transaction removing the
    zero-count reference items."""
    entries = [file_message(alice, f"m{i:02d}") for i in range(60)]
    lease = take_lease(store, alice, "session")
    assert lease is not None
    aws_calls.clear()

    store.commit_deletions(lease, entries)

    assert [call.operation for call in aws_calls] == [
        "TransactWriteItems",
        "TransactWriteItems",
        "BatchGetItem",
        "DeleteObjects",
        "TransactWriteItems",
    ]


def test_entries_of_another_mailbox_are_refused(
    store: Store, alice: str, bob: str, file_message: FileMessage
) -> None:
    entry = file_message(bob, "m1")
    lease = take_lease(store, alice, "session")
    assert lease is not None

    with pytest.raises(ValueError, match="another mailbox"):
        store.commit_deletions(lease, [entry])
    assert store.list_messages(bob) == (lean(entry),)


def test_a_removal_interrupted_part_way_is_finished_by_running_it_again(
    store: Store,
    alice: str,
    file_message: FileMessage,
    aws_clients: AwsClients,
    inject_fault: InjectFault,
) -> None:
    """While a removal is under way the mailbox is closed: no login, listing or delivery."""
    entry = file_message(alice, "m1")
    inject_fault(aws_clients.dynamodb, "Query", "InternalFailure")

    with pytest.raises(StoreError):
        store.remove_mailbox(alice)
    assert store.get_mailbox(alice) is None
    assert store.list_mailboxes() == []
    with pytest.raises(MailboxNotFound):  # ingest's filing of a new message is refused
        store.deliver(replace(entry, uid="m2"), Policy())

    assert store.remove_mailbox(alice) == 1
    assert not object_exists(store, entry.object_key)
