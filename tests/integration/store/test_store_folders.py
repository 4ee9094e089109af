"""POP4's folders in storage (docs/pop4.md), against moto: the directory and its counters, a
commit's moves, copies and deletions (exactly once, under the lease, finished by a re-run after a
crash part-way), and the MIME structure cached per object."""

from __future__ import annotations

import time

import pytest

from popdrop.faces.faults import DirectoryChanged, LeaseLost, StoreError
from popdrop.faces.pop3 import Lease
from popdrop.folders import FolderChanges, FolderTree
from popdrop.model import INBOX_ID, FolderId, MessageEntry
from popdrop.store import Store
from tests.conftest import AwsCall, AwsClients
from tests.support import lean, object_exists, take_lease

from .conftest import MESSAGE, FileMessage, InjectFault

MULTIPART = (
    b"From: a@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
    b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\nPDFDATA\r\n--b1--\r\n'
)


def _lease(store: Store, address: str) -> Lease:
    lease = take_lease(store, address, "session", seconds=30)
    assert lease is not None
    return lease


def _folder(store: Store, address: str, name: str) -> FolderId:
    found = store.list_folders(address).find(name)
    assert found is not None
    return found.id


def _news_change(
    store: Store, alice: str, moved: MessageEntry, copied: MessageEntry
) -> FolderChanges:
    """CFLD news, MOVE `moved` news, COPY `copied` news, as a session would make them."""
    tree = FolderTree(store.list_folders(alice))
    news = tree.create("news")
    return FolderChanges(moves=((moved, news),), copies=((copied, news),), directory=tree.plan())


def test_a_new_mailbox_has_inbox_and_quarantine_only(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    file_message(alice, "m1")
    listing = store.list_folders(alice)
    assert [(f.name, f.messages, f.octets) for f in listing] == [
        ("INBOX", 1, len(MESSAGE)),
        ("Quarantine", 0, 0),
    ]
    assert listing.version == 0


def test_a_commit_creates_the_folder_moves_and_copies_metadata_only(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    m1, m2, m3 = (file_message(alice, f"m{i}") for i in (1, 2, 3))
    store.commit_changes(_lease(store, alice), [m3], _news_change(store, alice, m1, m2))

    listing = store.list_folders(alice)
    assert [(f.name, f.messages) for f in listing] == [("INBOX", 1), ("Quarantine", 0), ("news", 2)]
    news = _folder(store, alice, "news")
    in_news = store.list_folder(alice, news)
    assert {entry.uid for entry in in_news} >= {"m1"}  # a moved message keeps its uid
    copy = next(entry for entry in in_news if entry.uid != "m1")
    assert copy.object_key == m2.object_key  # no object copied
    assert store.list_messages(alice) == (lean(m2),)
    assert store.get_message(alice, "m1").folder == news
    mailbox = store.get_mailbox(alice)
    assert mailbox is not None and mailbox.message_count == 3  # m1, m2 and the copy
    assert not object_exists(store, m3.object_key)


def test_a_copy_keeps_its_object_after_the_original_is_deleted_design_invariant_8(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    m1, m2 = file_message(alice, "m1"), file_message(alice, "m2")
    store.commit_changes(_lease(store, alice), [], _news_change(store, alice, m1, m2))
    store.commit_changes(_lease_again(store, alice), [m2], None)
    assert object_exists(store, m2.object_key)


def _lease_again(store: Store, alice: str) -> Lease:
    lease = take_lease(store, alice, "next", seconds=30, now=time.time() + 60)
    assert lease is not None
    return lease


def test_running_a_commit_again_changes_nothing(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    m1, m2 = file_message(alice, "m1"), file_message(alice, "m2")
    lease, change = _lease(store, alice), _news_change(store, alice, m1, m2)
    store.commit_changes(lease, [], change)
    before = store.list_folders(alice)

    store.commit_changes(lease, [], change)

    assert store.list_folders(alice) == before
    assert len(store.list_folder(alice, _folder(store, alice, "news"))) == 2


def test_a_commit_interrupted_after_the_directory_is_finished_by_a_rerun(
    store: Store,
    alice: str,
    file_message: FileMessage,
    aws_clients: AwsClients,
    inject_fault: InjectFault,
) -> None:
    m1, m2 = file_message(alice, "m1"), file_message(alice, "m2")
    lease, change = _lease(store, alice), _news_change(store, alice, m1, m2)
    inject_fault(aws_clients.dynamodb, "TransactWriteItems", "InternalFailure", after=1)
    with pytest.raises(StoreError):
        store.commit_changes(lease, [], change)
    assert [f.messages for f in store.list_folders(alice)] == [2, 0, 0]

    store.commit_changes(lease, [], change)

    assert [f.messages for f in store.list_folders(alice)] == [1, 0, 2]


def test_a_commit_under_a_lost_lease_writes_nothing_design_invariant_3(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    m1, m2 = file_message(alice, "m1"), file_message(alice, "m2")
    stale = take_lease(store, alice, "paused", seconds=5, now=time.time() - 60)
    assert stale is not None
    assert take_lease(store, alice, "successor")  # the paused daemon's heartbeat ran out
    with pytest.raises(LeaseLost):
        store.commit_changes(stale, [m1], _news_change(store, alice, m1, m2))
    assert [(f.name, f.messages) for f in store.list_folders(alice)] == [
        ("INBOX", 2),
        ("Quarantine", 0),
    ]


def test_a_folder_deleted_after_its_messages_moved_out_leaves_the_directory(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    m1, m2 = file_message(alice, "m1"), file_message(alice, "m2")
    store.commit_changes(_lease(store, alice), [], _news_change(store, alice, m1, m2))
    news = _folder(store, alice, "news")
    moved, copied = store.list_folder(alice, news)
    tree = FolderTree(store.list_folders(alice))
    tree.delete("news", holds_messages=lambda _: False)
    change = FolderChanges(moves=((moved, INBOX_ID), (copied, INBOX_ID)), directory=tree.plan())

    store.commit_changes(_lease_again(store, alice), [], change)

    assert [(f.name, f.messages) for f in store.list_folders(alice)] == [
        ("INBOX", 3),
        ("Quarantine", 0),
    ]


def test_a_change_made_against_old_folders_is_refused_whole(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    m1 = file_message(alice, "m1")
    tree = FolderTree(store.list_folders(alice))
    tree.create("late")
    store.commit_changes(_lease(store, alice), [], _news_change(store, alice, m1, m1))
    with pytest.raises(DirectoryChanged):
        store.commit_changes(_lease_again(store, alice), [m1], FolderChanges(directory=tree.plan()))
    assert store.list_folders(alice).find("late") is None
    assert len(store.list_folder(alice, _folder(store, alice, "news"))) == 2


def test_the_mime_structure_is_read_once_then_cached_on_the_object(
    store: Store, alice: str, file_message: FileMessage, aws_calls: list[AwsCall]
) -> None:
    entry = file_message(alice, "m1", data=MULTIPART)
    aws_calls.clear()
    first = store.mime_structure(entry)
    assert [call.operation for call in aws_calls] == ["GetItem", "GetObject", "UpdateItem"]
    aws_calls.clear()
    assert store.mime_structure(entry) == first
    assert [call.operation for call in aws_calls] == ["GetItem"]
    assert [(p.id, p.content_type, p.filename) for p in first.parts] == [
        ("1", "text/plain", ""),
        ("2", "application/pdf", "a.pdf"),
    ]
    pdf = first.parts[1]
    assert MULTIPART[pdf.start : pdf.end].startswith(b"PDFDATA")


def test_removing_a_mailbox_removes_its_folders_messages_and_objects_design_invariant_8(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    m1, m2 = file_message(alice, "m1"), file_message(alice, "m2")
    store.commit_changes(_lease(store, alice), [], _news_change(store, alice, m1, m2))

    assert store.remove_mailbox(alice) == 3  # m2 in INBOX, m1 and the copy in news

    for entry in (m1, m2):
        assert not object_exists(store, entry.object_key)
    store.create_mailbox(alice, "hash-again")
    assert [folder.name for folder in store.list_folders(alice)] == ["INBOX", "Quarantine"]
