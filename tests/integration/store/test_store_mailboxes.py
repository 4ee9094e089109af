"""Mailbox profiles against moto: create, read, list, change password, remove."""

from __future__ import annotations

import pytest

from popdrop.faces.faults import MailboxExists, MailboxNotFound
from popdrop.faces.ingest import Filed
from popdrop.model import MessageEntry, Policy
from popdrop.store import Store
from tests.support import object_exists, stored_object

from .conftest import ALICE, BOB, MESSAGE, FileMessage


def test_a_created_mailbox_reads_back_with_empty_counters(store: Store) -> None:
    created = store.create_mailbox(ALICE, "hash-1")

    assert store.get_mailbox(ALICE) == created
    assert (created.address, created.password_hash) == (ALICE, "hash-1")
    assert (created.message_count, created.octets) == (0, 0)
    assert created.created_at > 1_700_000_000


def test_creating_an_existing_mailbox_raises_mailbox_exists(store: Store) -> None:
    store.create_mailbox(ALICE, "hash-1")

    with pytest.raises(MailboxExists):
        store.create_mailbox(ALICE, "hash-2")
    assert store.get_mailbox(ALICE).password_hash == "hash-1"


def test_an_unknown_mailbox_reads_as_none(store: Store) -> None:
    assert store.get_mailbox("nobody@example.test") is None


def test_list_mailboxes_returns_profiles_only_in_address_order(
    store: Store, file_message: FileMessage
) -> None:
    """The `directory` index is sparse: entries, markers and references never show in it."""
    for address in ["zoe@example.test", BOB, ALICE]:
        store.create_mailbox(address, "hash")
    file_message(ALICE, "m1")

    listed = store.list_mailboxes()

    assert [m.address for m in listed] == [ALICE, BOB, "zoe@example.test"]
    assert listed[0].message_count == 1


def test_set_password_replaces_the_hash(store: Store) -> None:
    store.create_mailbox(ALICE, "old")

    store.set_password(ALICE, "new")

    assert store.get_mailbox(ALICE).password_hash == "new"


def test_set_password_of_an_unknown_mailbox_raises_and_creates_nothing(store: Store) -> None:
    with pytest.raises(MailboxNotFound):
        store.set_password(ALICE, "new")
    assert store.get_mailbox(ALICE) is None
    assert store.list_mailboxes() == []


def test_remove_mailbox_deletes_profile_and_messages_and_counts_them(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    entries = [file_message(alice, f"m{i}") for i in range(3)]

    assert store.remove_mailbox(alice) == 3

    assert store.get_mailbox(alice) is None
    assert store.list_mailboxes() == []
    assert store.list_messages(alice) == ()
    assert store.get_message(alice, entries[0].uid) is None


def test_remove_mailbox_keeps_objects_other_mailboxes_still_use(
    store: Store, alice: str, bob: str, file_message: FileMessage
) -> None:
    """DESIGN invariant 8, from the other side: an object lives while any entry refers to it."""
    shared = file_message(alice, "shared", also=[bob])
    own = file_message(alice, "own")

    store.remove_mailbox(alice)

    assert stored_object(store, shared.object_key) == MESSAGE
    assert [m.uid for m in store.list_messages(bob)] == ["shared"]
    assert not object_exists(store, own.object_key)


def test_remove_of_an_unknown_mailbox_raises_mailbox_not_found(store: Store) -> None:
    with pytest.raises(MailboxNotFound):
        store.remove_mailbox(ALICE)


def test_a_removed_mailbox_receives_nothing(store: Store, alice: str) -> None:
    store.remove_mailbox(alice)

    entry = MessageEntry(alice, "late", "incoming/late", 10, 2, 1_700_000_000_000)
    with pytest.raises(MailboxNotFound):  # ingest's filing
        store.deliver(entry, Policy())
    assert store.get_mailbox(alice) is None


def test_a_recreated_mailbox_never_reuses_a_uid_of_its_predecessor(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    """RFC 1939 §7: unique-id markers survive removal, so a replayed event delivers nothing to
    whoever owns the address next."""
    old = file_message(alice, "m1")
    store.remove_mailbox(alice)
    store.create_mailbox(alice, "hash-new")

    assert store.deliver(old, Policy()) is Filed.DUPLICATE
    assert store.list_messages(alice) == ()
