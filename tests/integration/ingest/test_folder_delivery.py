"""Issue 14, "Delivery into folders" (docs/pop4.md): mail to user+name@ is filed in the user's
folder `name` when there is one (case-insensitively), INBOX otherwise; exactly once however often
the event comes (DESIGN invariant 1); never into Quarantine by a tag."""

from __future__ import annotations

from collections import Counter

from popdrop import folder_admin
from popdrop.events import ses_event
from popdrop.ingest import IngestResult, ingest_ses_event
from popdrop.model import Address, Policy
from popdrop.store import Store
from tests.conftest import AwsCall
from tests.support import lean

ALICE = Address("alice@example.test")
MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


def send(store: Store, recipient: str, message_id: str = "m1") -> IngestResult:
    store.put_incoming(message_id, MESSAGE)
    [result] = ingest_ses_event(store, ses_event(message_id, [recipient], timestamp_ms=1))
    return result


def _counts(store: Store) -> dict[str, int]:
    return {folder.name: folder.messages for folder in store.list_folders(ALICE)}


def test_a_plus_address_naming_a_folder_files_into_it(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    folder_admin.create(store, ALICE, "News")
    assert send(store, "alice+news@example.test").delivered == (ALICE,)
    assert _counts(store) == {"INBOX": 0, "Quarantine": 0, "News": 1}
    [entry] = store.list_folder(ALICE, store.list_folders(ALICE).folders[0].id)
    assert entry.tag == "news" and entry.uid == "m1"
    assert store.list_messages(ALICE) == ()
    mailbox = store.get_mailbox(ALICE)
    assert mailbox is not None and mailbox.message_count == 1  # quotas count every folder


def test_a_replayed_event_files_nothing_twice_design_invariant_1(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    folder_admin.create(store, ALICE, "news")
    send(store, "alice+news@example.test")
    assert send(store, "alice+news@example.test").duplicate == (ALICE,)
    assert _counts(store)["news"] == 1


def test_a_tag_naming_no_folder_or_a_system_folder_files_into_inbox(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    send(store, "alice+nofolder@example.test", "m1")
    send(store, "alice+quarantine@example.test", "m2")
    assert _counts(store) == {"INBOX": 2, "Quarantine": 0}


def test_a_quarantined_plus_addressed_message_stays_in_quarantine(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    folder_admin.create(store, ALICE, "news")
    store.put_policy(ALICE, Policy(max_messages=0, max_octets=1))
    assert send(store, "alice+news@example.test").quarantined == (ALICE,)
    assert _counts(store) == {"INBOX": 0, "Quarantine": 1, "news": 0}


def test_a_plus_addressed_delivery_costs_one_more_getitem(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    store.create_mailbox(ALICE, "hash")
    send(store, "alice@example.test", "m1")
    plain = Counter(call.operation for call in aws_calls)
    aws_calls.clear()
    send(store, "alice+news@example.test", "m2")
    tagged = Counter(call.operation for call in aws_calls)
    assert tagged - plain == Counter(GetItem=1)


def test_moving_a_quarantined_message_to_inbox_releases_it(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    store.put_policy(ALICE, Policy(max_messages=0, max_octets=1))
    send(store, "alice@example.test")
    store.put_policy(ALICE, Policy())
    folder_admin.move_messages(store, ALICE, ["m1"], "INBOX")
    assert _counts(store) == {"INBOX": 1, "Quarantine": 0}
    assert store.list_quarantined(ALICE) == []
    [entry] = store.list_messages(ALICE)
    found = store.get_message(ALICE, "m1")
    assert entry.uid == "m1" and found is not None and lean(found) == entry
    mailbox = store.get_mailbox(ALICE)
    assert mailbox is not None and mailbox.message_count == 1
