"""Lean entries (issue 13): a login reads only what POP3 needs (RFC 1939 §5: sizes for LIST, unique
ids for UIDL, the object for RETR). The summary and verdicts the REST API shows are the same for
every recipient: they live on the object's reference item and go when its last reference does."""

from __future__ import annotations

from dataclasses import replace

from popdrop.faces.pop3 import Lease
from popdrop.folders import FolderChanges, FolderTree
from popdrop.ingest import ingest
from popdrop.model import (
    INBOX_ID,
    Disposition,
    FolderId,
    MessageEntry,
    Policy,
    Quarantined,
    Summary,
    Verdicts,
)
from popdrop.store import Store, codec, schema
from tests.conftest import AwsCall, AwsClients
from tests.support import delete_messages, lean, shown, take_lease

from .conftest import MESSAGE, FileMessage

# What a login's Query may return of an entry: its key and POP3's fields, nothing else.
LEAN_ATTRIBUTES = {schema.PK, schema.SK, codec.OBJECT_KEY, codec.SIZE, codec.HEADER_SIZE}


def _items(store: Store, aws_clients: AwsClients, address: str, prefix: str) -> list[codec.Item]:
    response = aws_clients.dynamodb.query(
        TableName=store.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={
            ":pk": codec.s(schema.mailbox_pk(address)),
            ":prefix": codec.s(prefix),
        },
        ConsistentRead=True,
    )
    return response["Items"]


def _reference(store: Store, aws_clients: AwsClients, object_key: str) -> codec.Item | None:
    return aws_clients.dynamodb.get_item(
        TableName=store.table, Key=codec.reference_key(object_key), ConsistentRead=True
    ).get("Item")


def _lease(store: Store, address: str) -> Lease:
    lease = take_lease(store, address, "session", seconds=30)
    assert lease is not None
    return lease


def _into_news(
    store: Store,
    address: str,
    *,
    moves: tuple[MessageEntry, ...] = (),
    copies: tuple[MessageEntry, ...] = (),
) -> FolderId:
    """CFLD news, then MOVE or COPY these entries into it, committed as a session's QUIT."""
    tree = FolderTree(store.list_folders(address))
    news = tree.create("news")
    change = FolderChanges(
        moves=tuple((entry, news) for entry in moves),
        copies=tuple((entry, news) for entry in copies),
        directory=tree.plan(),
    )
    store.commit_changes(_lease(store, address), [], change)
    found = store.list_folders(address).find("news")
    assert found is not None
    return found.id


def test_a_login_reads_lean_entries_and_the_api_their_details(
    store: Store,
    alice: str,
    file_message: FileMessage,
    aws_clients: AwsClients,
    aws_calls: list[AwsCall],
) -> None:
    entry = file_message(alice, "m1")
    assert entry.summary == Summary(sender="carol@example.test", subject="hello")

    [item] = _items(store, aws_clients, alice, schema.MESSAGE_PREFIX)
    assert set(item) == LEAN_ATTRIBUTES
    assert store.list_messages(alice) == (lean(entry),)
    aws_calls.clear()
    assert store.get_message(alice, "m1") == entry
    # The marker, the entry, the details on the object's reference item.
    assert [call.operation for call in aws_calls] == ["GetItem"] * 3
    assert shown(store, alice) == [entry]


def test_the_api_reads_the_details_of_a_hundred_entries_with_one_batch_get(
    store: Store, alice: str, file_message: FileMessage, aws_calls: list[AwsCall]
) -> None:
    entries = [file_message(alice, f"m{i:03d}") for i in range(120)]
    aws_calls.clear()

    newest = store.messages_newest_first(alice)
    assert newest is not None
    assert [next(newest) for _ in range(3)] == entries[:-4:-1]
    assert [call.operation for call in aws_calls] == ["Query", "BatchGetItem"]
    assert list(newest) == entries[-4::-1]
    assert [call.operation for call in aws_calls] == ["Query", "BatchGetItem", "BatchGetItem"]


def test_the_details_stay_while_a_recipient_keeps_the_message_and_go_with_the_last(
    store: Store, alice: str, bob: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    """DESIGN invariant 8: one object, one reference item, for every recipient."""
    for_alice = file_message(alice, "m1", also=[bob])
    for_bob = store.get_message(bob, "m1")
    assert for_bob is not None and for_bob.summary == for_alice.summary

    delete_messages(store, [lean(for_alice)])
    assert store.get_message(bob, "m1") == for_bob

    delete_messages(store, [lean(for_bob)])
    assert _reference(store, aws_clients, for_bob.object_key) is None


def test_the_last_mailbox_gives_the_details_when_no_other_filed_the_message(
    store: Store, alice: str, bob: str
) -> None:
    """Alice's policy drops it, so only Bob's delivery (the last step, whose count does not move)
    can hand the reference item the details."""
    store.put_policy(alice, Policy(spf=Disposition.DROP))
    key = store.put_incoming("d1", MESSAGE)
    result = ingest(
        store,
        message_id="d1",
        object_key=key,
        recipients=[alice, bob],
        arrived_at=1_700_000_000_000,
        verdicts=Verdicts(spf="FAIL"),
    )
    assert (result.dropped, result.delivered) == ((alice,), (bob,))

    found = store.get_message(bob, "d1")
    assert found is not None and found.summary.subject == "hello"
    assert found.verdicts.spf == "FAIL"


def test_a_tag_stays_on_the_entry(store: Store, alice: str, aws_clients: AwsClients) -> None:
    """The plus-address tag is each recipient's own: it is not shared on the object's item."""
    key = store.put_incoming("t1", MESSAGE)
    entry = MessageEntry(alice, "t1", key, len(MESSAGE), 44, 1_700_000_000_000, tag="lists")
    store.deliver(entry, Policy())

    [item] = _items(store, aws_clients, alice, schema.MESSAGE_PREFIX)
    assert set(item) == {*LEAN_ATTRIBUTES, codec.TAG}
    assert [listed.tag for listed in store.list_messages(alice)] == ["lists"]


def test_a_copy_shares_its_source_details_without_a_read(
    store: Store, alice: str, file_message: FileMessage
) -> None:
    source = file_message(alice, "m1")
    [listed] = store.list_messages(alice)

    news = _into_news(store, alice, copies=(listed,))

    [copy] = store.list_folder(alice, news)
    assert copy == replace(lean(source), uid=copy.uid, folder=news)
    assert store.get_message(alice, copy.uid) == replace(source, uid=copy.uid, folder=news)


def test_a_released_message_is_lean_and_keeps_its_details(
    store: Store, alice: str, aws_clients: AwsClients
) -> None:
    key = store.put_incoming("q1", MESSAGE)
    entry = MessageEntry(
        alice, "q1", key, len(MESSAGE), 44, 1_700_000_000_000, Summary(subject="held")
    )
    store.quarantine(Quarantined(entry, "spam", 1_700_000_000))
    [held] = store.list_quarantined(alice)
    assert held.entry.summary.subject == "held"

    store.release_quarantined(alice, "q1")

    [item] = _items(store, aws_clients, alice, schema.MESSAGE_PREFIX)
    assert set(item) == LEAN_ATTRIBUTES
    assert store.get_message(alice, "q1") == replace(entry, folder=INBOX_ID)


def test_entries_written_with_their_details_are_shown_and_keep_them_when_moved(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    """A table written before reference items held details: each entry carries its own (and its
    uid and arrival time). Readers show them; a move, which writes a lean entry, hands them to
    the object's reference item in the same transaction."""
    entry = file_message(alice, "m1")
    old_item = {
        **codec.entry_item(entry),
        **codec.details_item(entry),
        "uid": codec.s(entry.uid),
        "arrived_at": codec.n(entry.arrived_at),
    }
    aws_clients.dynamodb.put_item(TableName=store.table, Item=old_item)
    aws_clients.dynamodb.update_item(
        TableName=store.table,
        Key=codec.reference_key(entry.object_key),
        UpdateExpression="REMOVE #summary, #verdicts",
        ExpressionAttributeNames={"#summary": codec.SUMMARY, "#verdicts": codec.VERDICTS},
    )

    assert shown(store, alice) == [entry]
    assert store.get_message(alice, "m1") == entry
    [listed] = store.list_messages(alice)
    assert listed == entry  # read from an entry that holds its details

    news = _into_news(store, alice, moves=(listed,))

    [moved] = _items(store, aws_clients, alice, schema.FOLDER_MESSAGE_PREFIX)
    assert set(moved) == LEAN_ATTRIBUTES
    assert store.get_message(alice, "m1") == replace(entry, folder=news)
