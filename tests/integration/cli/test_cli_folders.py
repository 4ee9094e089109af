"""`popdrop folder list|create|rename|delete|move` (docs/pop4.md, "Managing folders"), run as
subprocesses against the moto server."""

from __future__ import annotations

from popdrop import folder_admin
from popdrop.model import Address
from popdrop.store import Store
from tests.integration.cli.test_cli import popdrop
from tests.support import deliver

ALICE = Address("alice@example.test")
MESSAGE = b"From: a@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"


def _lines(store: Store, *args: str) -> list[str]:
    done = popdrop(store, "folder", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().splitlines()


def _names(store: Store) -> list[str]:
    return [folder.name for folder in store.list_folders(ALICE)]


def test_folder_list_create_and_rename(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    deliver(store, MESSAGE, ALICE)
    _lines(store, "create", ALICE, "lists")
    _lines(store, "create", ALICE, "lists/py")
    _lines(store, "rename", ALICE, "lists", "Lists")
    assert _lines(store, "list", ALICE) == [
        f"INBOX\t1 messages\t{len(MESSAGE)} octets",
        "Quarantine\t0 messages\t0 octets",
        "Lists\t0 messages\t0 octets",
        "Lists/py\t0 messages\t0 octets",
    ]


def test_folder_move_messages_and_folders_and_delete(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    uid = deliver(store, MESSAGE, ALICE)
    folder_admin.create(store, ALICE, "lists")
    folder_admin.create(store, ALICE, "lists/python")
    _lines(store, "move", ALICE, "lists/python", uid)
    assert store.list_messages(ALICE) == ()
    _lines(store, "move", ALICE, "lists/python", "--parent", "/")
    _lines(store, "delete", ALICE, "lists")
    assert [(f.name, f.messages) for f in store.list_folders(ALICE)] == [
        ("INBOX", 0),
        ("Quarantine", 0),
        ("python", 1),
    ]


def test_refusals_exit_2_with_the_rules_text_and_change_nothing(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    uid = deliver(store, MESSAGE, ALICE)
    folder_admin.create(store, ALICE, "full")
    folder_admin.move_messages(store, ALICE, [uid], "full")
    for args, text in (
        (("delete", ALICE, "full"), b"Folder holds messages; move them first."),
        (("delete", ALICE, "INBOX"), b"INBOX and Quarantine are system folders."),
        (("create", ALICE, "a b"), b"Invalid folder name."),
        (("move", ALICE, "Quarantine", uid), b"Quarantine takes no messages."),
        (("move", ALICE, "full", "no-such-uid"), b"no message with uid"),
    ):
        done = popdrop(store, "folder", *args)
        assert done.returncode == 2, args
        assert text in done.stderr, done.stderr
    assert _names(store) == ["INBOX", "Quarantine", "full"]
