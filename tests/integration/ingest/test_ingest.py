"""Ingest against moto: recipients to entries, exactly once (DESIGN invariant 1), at the cost of
one ranged GET per message plus one transaction per recipient."""

from __future__ import annotations

import json
import logging

import pytest

from popdrop.events import ses_event
from popdrop.faces.faults import ObjectNotFound
from popdrop.ingest import HEAD_READ, HEADER_LIMIT, IngestResult, ingest_ses_event
from popdrop.model import Summary
from popdrop.store import Store
from tests.conftest import AwsCall
from tests.integration.ingest.conftest import Crash, CrashAt
from tests.support import delete_messages, shown, stored_object

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
MESSAGE = (
    b"Return-Path: <sender@example.org>\r\n"
    b"From: Sender <sender@example.org>\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: Lunch?\r\n"
    b"Date: Fri, 1 Mar 2024 12:00:00 +0000\r\n"
    b"Message-ID: <lunch@example.org>\r\n"
    b"\r\n"
    b"Noon at the usual place.\r\n"
)
HEADER_SIZE = MESSAGE.index(b"\r\n\r\n") + 4
ARRIVED = 1_709_294_400_250


@pytest.fixture
def mailboxes(store: Store) -> list[str]:
    for address in (ALICE, BOB):
        store.create_mailbox(address, "hash")
    return [ALICE, BOB]


def _event(store: Store, message_id: str, data: bytes, *recipients: str) -> dict[str, object]:
    store.put_incoming(message_id, data)
    return ses_event(message_id, recipients, timestamp_ms=ARRIVED, source="sender@example.org")


def test_a_message_for_one_mailbox_becomes_one_entry_with_sizes_and_summary(
    store: Store, mailboxes: list[str]
) -> None:
    [result] = ingest_ses_event(store, _event(store, "msg-1", MESSAGE, ALICE))

    assert result == IngestResult("msg-1", "incoming/msg-1", delivered=(ALICE,))
    [entry] = shown(store, ALICE)
    assert (entry.uid, entry.object_key, entry.arrived_at) == ("msg-1", "incoming/msg-1", ARRIVED)
    assert (entry.size, entry.header_size) == (len(MESSAGE), HEADER_SIZE)
    assert entry.summary == Summary(
        sender="Sender <sender@example.org>",
        to=ALICE,
        subject="Lunch?",
        date="Fri, 1 Mar 2024 12:00:00 +0000",
        message_id="<lunch@example.org>",
    )
    assert store.get_mailbox(ALICE).octets == len(MESSAGE)


def test_ingest_reads_only_the_head_with_one_ranged_get(
    store: Store, mailboxes: list[str], aws_calls: list[AwsCall]
) -> None:
    """Cost: one lookup of the recipients, one ranged GET per message, one transaction per
    recipient mailbox (the first also begins the ingest record and takes the hold, the last
    finishes it); nothing else (issue 13, "Ingest at the floor")."""
    event = _event(store, "msg-1", MESSAGE + b"x\r\n" * 200_000, ALICE, BOB)
    aws_calls.clear()

    ingest_ses_event(store, event)

    assert [(call.operation, call.headers.get("Range")) for call in aws_calls] == [
        ("BatchGetItem", None),
        ("GetObject", f"bytes=0-{HEAD_READ - 1}"),
        ("TransactWriteItems", None),
        ("TransactWriteItems", None),
    ]


def test_a_message_for_one_mailbox_costs_one_transaction(
    store: Store, mailboxes: list[str], aws_calls: list[AwsCall]
) -> None:
    """Issue 13, "Ingest at the floor": the ingest record (created done), the entry, its uid marker,
    the profile's counters and the object's reference in one TransactWriteItems."""
    event = _event(store, "msg-1", MESSAGE, ALICE)
    aws_calls.clear()

    [result] = ingest_ses_event(store, event)

    assert result.delivered == (ALICE,)
    assert [call.operation for call in aws_calls] == [
        "BatchGetItem",
        "GetObject",
        "TransactWriteItems",
    ]
    assert store.ingest_record("msg-1").status == "done"
    assert store.get_mailbox(ALICE).message_count == 1


def test_every_recipient_gets_an_entry_for_the_one_object(
    store: Store, mailboxes: list[str]
) -> None:
    [result] = ingest_ses_event(store, _event(store, "msg-1", MESSAGE, ALICE, BOB))

    assert result.delivered == (ALICE, BOB)
    for address in (ALICE, BOB):
        [entry] = store.list_messages(address)
        assert entry.object_key == "incoming/msg-1"


def test_the_ses_path_shows_no_recipient_the_others_envelopes_name(
    store: Store, mailboxes: list[str]
) -> None:
    """Issue 15: a message for Alice (by a plus-address) and Bob (Bcc: in no header) is filed
    as SES stored it, byte for byte: ingest adds no header naming envelope recipients, and each
    entry carries only its own mailbox's tag."""
    [result] = ingest_ses_event(
        store, _event(store, "msg-1", MESSAGE, "alice+news@example.test", BOB)
    )

    assert result.delivered == (ALICE, BOB)
    [alice] = shown(store, ALICE)
    [bob] = shown(store, BOB)
    assert (alice.tag, bob.tag) == ("news", "")
    assert alice.summary.to == bob.summary.to == ALICE  # the To header the sender wrote
    assert stored_object(store, alice.object_key) == MESSAGE
    assert BOB.encode() not in stored_object(store, alice.object_key)


def test_recipients_are_normalised_and_deduplicated(store: Store, mailboxes: list[str]) -> None:
    [result] = ingest_ses_event(
        store, _event(store, "msg-1", MESSAGE, "Alice@Example.TEST", " alice@example.test", ALICE)
    )

    assert result.delivered == (ALICE,)
    assert len(store.list_messages(ALICE)) == 1


def test_unknown_recipients_are_skipped_and_logged_with_the_message_id(
    store: Store, mailboxes: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="popdrop.ingest")

    [result] = ingest_ses_event(
        store, _event(store, "msg-1", MESSAGE, CAROL, ALICE, "not an address")
    )

    assert result.delivered == (ALICE,)
    assert result.unknown == ("not an address", CAROL)
    [logged] = [r.fields for r in caplog.records if r.getMessage() == "ingest.message"]
    assert logged["correlation_id"] == logged["message_id"] == "msg-1"
    assert (logged["delivered"], logged["unknown"]) == ([ALICE], ["not an address", CAROL])


def test_a_replayed_event_delivers_nothing_twice(store: Store, mailboxes: list[str]) -> None:
    """DESIGN invariant 1: SES, S3 or Lambda may deliver the same event again."""
    event = _event(store, "msg-1", MESSAGE, ALICE, BOB)
    ingest_ses_event(store, event)

    [replay] = ingest_ses_event(store, event)

    assert replay.delivered == () and replay.duplicate == (ALICE, BOB)
    for address in (ALICE, BOB):
        assert len(store.list_messages(address)) == 1
        assert store.get_mailbox(address).message_count == 1


def test_a_replay_after_a_partial_run_finishes_the_delivery(
    store: Store, mailboxes: list[str], crash_at: CrashAt
) -> None:
    """A run that crashed after Alice's entry is retried: Alice is a duplicate, Bob gets his."""
    event = _event(store, "msg-1", MESSAGE, ALICE, BOB)
    crash_at("TransactWriteItems", 2)  # Alice (and begin), then Bob's write never happens
    with pytest.raises(Crash):
        ingest_ses_event(store, event)

    [retry] = ingest_ses_event(store, event)

    assert (retry.delivered, retry.duplicate) == ((BOB,), (ALICE,))


def test_a_replay_after_the_message_was_deleted_does_not_bring_it_back(
    store: Store, mailboxes: list[str]
) -> None:
    """DESIGN invariants 1 and 5: the uid marker outlives the entry."""
    event = _event(store, "msg-1", MESSAGE, ALICE, BOB)
    ingest_ses_event(store, event)
    delete_messages(store, store.list_messages(ALICE))

    [replay] = ingest_ses_event(store, event)

    assert replay.duplicate == (ALICE, BOB)
    assert store.list_messages(ALICE) == ()


def test_a_message_without_a_body_is_all_header(store: Store, mailboxes: list[str]) -> None:
    data = b"Subject: no body\r\nFrom: x@example.org\r\n"

    ingest_ses_event(store, _event(store, "msg-1", data, ALICE))

    [entry] = shown(store, ALICE)
    assert entry.header_size == entry.size == len(data)
    assert entry.summary.subject == "no body"


def test_a_header_block_longer_than_the_first_read_costs_one_more_get(
    store: Store, mailboxes: list[str], aws_calls: list[AwsCall]
) -> None:
    headers = b"".join(b"Received: from relay%d\r\n" % i for i in range(4000)) + b"Subject: far\r\n"
    data = headers + b"\r\nbody\r\n"
    assert len(headers) > HEAD_READ
    event = _event(store, "msg-1", data, ALICE)
    aws_calls.clear()

    ingest_ses_event(store, event)

    [entry] = shown(store, ALICE)
    assert entry.header_size == len(headers) + 2
    assert entry.summary.subject == "far"
    assert [call.headers.get("Range") for call in aws_calls if call.operation == "GetObject"] == [
        f"bytes=0-{HEAD_READ - 1}",
        f"bytes=0-{HEADER_LIMIT - 1}",
    ]


def test_a_header_block_beyond_the_limit_counts_as_all_header(
    store: Store, mailboxes: list[str]
) -> None:
    """The search for the end of the headers is bounded; TOP then sends the whole message."""
    data = b"X-Filler: " + b"y" * (HEADER_LIMIT + 10) + b"\r\n\r\nbody\r\n"

    ingest_ses_event(store, _event(store, "msg-1", data, ALICE))

    [entry] = store.list_messages(ALICE)
    assert entry.header_size == entry.size == len(data)


def test_eight_bit_junk_in_the_headers_is_delivered_with_a_readable_summary(
    store: Store, mailboxes: list[str]
) -> None:
    data = (
        b"From: \xff\xfe <x@example.org>\r\n"
        b"Subject: caf\xe9 \x1b[1m\r\n"
        b"Message-ID: <<<@@>>>\r\n"
        b"\r\nhi\r\n"
    )

    ingest_ses_event(store, _event(store, "msg-1", data, ALICE))

    [entry] = shown(store, ALICE)
    assert entry.header_size == data.index(b"\r\n\r\n") + 4
    assert entry.summary.subject == "caf\ufffd [1m"
    assert entry.summary.message_id == "<<<@@>>>"
    assert json.dumps(entry.summary.sender)  # plain text the API can serve


def test_an_empty_message_is_delivered_as_zero_octets(store: Store, mailboxes: list[str]) -> None:
    ingest_ses_event(store, _event(store, "msg-1", b"", ALICE))

    [entry] = store.list_messages(ALICE)
    assert (entry.size, entry.header_size) == (0, 0)


def test_a_message_id_unfit_for_uidl_gets_a_stable_derived_uid(
    store: Store, mailboxes: list[str]
) -> None:
    """RFC 1939 §7 limits a uid to 70 printable characters; the object keeps the id itself."""
    message_id = "m" * 80
    event = _event(store, message_id, MESSAGE, ALICE)

    ingest_ses_event(store, event)
    [replay] = ingest_ses_event(store, event)

    [entry] = store.list_messages(ALICE)
    assert entry.uid.startswith("sha256-") and entry.object_key == "incoming/" + message_id
    assert replay.duplicate == (ALICE,)


def test_a_message_whose_object_is_missing_raises(store: Store, mailboxes: list[str]) -> None:
    event = ses_event("never-stored", [ALICE], timestamp_ms=ARRIVED)

    with pytest.raises(ObjectNotFound):
        ingest_ses_event(store, event)
    assert store.list_messages(ALICE) == ()


def test_recipients_that_are_no_address_cost_only_the_ingest_record(
    store: Store, mailboxes: list[str], aws_calls: list[AwsCall]
) -> None:
    """No lookup and no read: only the record that tells reconcile and gc it was handled."""
    [result] = ingest_ses_event(store, _event(store, "msg-1", MESSAGE, "bad address"))

    assert result == IngestResult("msg-1", "incoming/msg-1", unknown=("bad address",))
    operations = [call.operation for call in aws_calls]
    assert operations == ["PutObject", "TransactWriteItems"]  # the test's upload, the record
    assert store.ingest_record("msg-1").status == "done"
