"""Issue 6, "Verdict policy" and "Quotas": every branch of a mailbox's policy, the quota edges,
and quarantine kept out of the POP3 maildrop, visible, releasable and discardable."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from popdrop.events import ALL_PASS, ses_event
from popdrop.ingest import IngestResult, ingest_ses_event
from popdrop.model import INBOX_ID, Disposition, Policy, Verdicts
from popdrop.store import Store
from tests.support import delete_messages, object_exists

ALICE = "alice@example.test"
MESSAGE = b"From: s@example.org\r\nSubject: offer\r\n\r\nbody\r\n"
ARRIVED = 1_709_294_400_250


@pytest.fixture
def alice(store: Store) -> str:
    store.create_mailbox(ALICE, "hash")
    return ALICE


def send(store: Store, message_id: str, verdicts: Verdicts = ALL_PASS) -> IngestResult:
    store.put_incoming(message_id, MESSAGE)
    event = ses_event(message_id, [ALICE], timestamp_ms=ARRIVED, verdicts=verdicts)
    [result] = ingest_ses_event(store, event)
    return result


def reasons(store: Store) -> list[str]:
    return [held.reason for held in store.list_quarantined(ALICE)]


def test_by_default_spam_is_quarantined_out_of_the_maildrop(store: Store, alice: str) -> None:
    result = send(store, "m1", Verdicts(spam="FAIL", virus="PASS"))

    assert result.quarantined == (ALICE,)
    assert store.list_messages(ALICE) == ()  # what POP3 lists (RFC 1939 §5 STAT/LIST)
    assert reasons(store) == ["spam=FAIL"]
    assert store.get_mailbox(ALICE).message_count == 0


def test_by_default_a_virus_is_dropped_and_logged_with_the_reason(
    store: Store, alice: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="popdrop.ingest")

    result = send(store, "m1", Verdicts(spam="FAIL", virus="FAIL"))

    assert result.dropped == (ALICE,)
    assert store.list_messages(ALICE) == () and reasons(store) == []
    [line] = [r.fields for r in caplog.records if r.getMessage() == "ingest.message"]
    assert line["dropped"] == [ALICE] and line["reasons"] == {ALICE: "virus=FAIL"}


@pytest.mark.parametrize("status", ["GRAY", "PROCESSING_FAILED", "DISABLED", None])
def test_only_a_fail_verdict_triggers_the_policy(store: Store, alice: str, status: str) -> None:
    result = send(store, "m1", Verdicts(spam=status, virus=status))

    assert result.delivered == (ALICE,)


@pytest.mark.parametrize("kind", ["spam", "virus", "spf", "dkim", "dmarc"])
@pytest.mark.parametrize("action", list(Disposition))
def test_each_verdict_kind_takes_the_mailboxs_configured_action(
    store: Store, alice: str, kind: str, action: Disposition
) -> None:
    lenient = {name: Disposition.DELIVER for name in ("spam", "virus", "spf", "dkim", "dmarc")}
    store.put_policy(ALICE, Policy(**{**lenient, kind: action}))

    result = send(store, "m1", Verdicts(**{kind: "FAIL"}))

    outcome = {"deliver": "delivered", "quarantine": "quarantined", "drop": "dropped"}[action]
    assert getattr(result, outcome) == (ALICE,)


def test_the_most_severe_action_of_several_failed_verdicts_wins(store: Store, alice: str) -> None:
    store.put_policy(ALICE, Policy(spf=Disposition.QUARANTINE, dmarc=Disposition.DROP))

    result = send(store, "m1", Verdicts(spf="FAIL", dmarc="FAIL"))

    assert result.dropped == (ALICE,)


def test_the_message_quota_admits_up_to_the_limit_then_quarantines_with_the_reason(
    store: Store, alice: str
) -> None:
    store.put_policy(ALICE, Policy(max_messages=2))

    outcomes = [send(store, f"m{n}") for n in range(3)]

    assert [bool(result.delivered) for result in outcomes] == [True, True, False]
    assert outcomes[2].quarantined == (ALICE,)
    assert reasons(store) == ["over quota: 2 messages"]
    assert store.get_mailbox(ALICE).message_count == 2


def test_the_octet_quota_admits_a_message_that_fills_it_exactly(store: Store, alice: str) -> None:
    store.put_policy(ALICE, Policy(max_octets=2 * len(MESSAGE)))

    outcomes = [send(store, f"m{n}") for n in range(3)]

    assert [bool(result.delivered) for result in outcomes] == [True, True, False]
    assert reasons(store) == [f"over quota: {2 * len(MESSAGE)} octets"]
    assert store.get_mailbox(ALICE).octets == 2 * len(MESSAGE)


def test_a_message_larger_than_the_whole_octet_quota_is_quarantined(
    store: Store, alice: str
) -> None:
    store.put_policy(ALICE, Policy(max_octets=len(MESSAGE) - 1))

    assert send(store, "m1").quarantined == (ALICE,)


def test_a_deleted_message_frees_its_quota(store: Store, alice: str) -> None:
    store.put_policy(ALICE, Policy(max_messages=1))
    send(store, "m1")
    delete_messages(store, store.list_messages(ALICE))

    assert send(store, "m2").delivered == (ALICE,)


def test_a_replayed_event_of_a_quarantined_message_is_a_duplicate(store: Store, alice: str) -> None:
    send(store, "m1", Verdicts(spam="FAIL"))

    assert send(store, "m1", Verdicts(spam="FAIL")).duplicate == (ALICE,)
    assert len(reasons(store)) == 1


def test_release_moves_the_message_into_the_maildrop_past_the_quota(
    store: Store, alice: str
) -> None:
    store.put_policy(ALICE, Policy(max_messages=1))
    send(store, "m1")
    send(store, "m2")
    [held] = store.list_quarantined(ALICE)

    released = store.release_quarantined(held.entry.mailbox, held.entry.uid)

    assert released == replace(held.entry, folder=INBOX_ID)  # the same message, now in INBOX
    assert [entry.uid for entry in store.list_messages(ALICE)] == ["m1", "m2"]
    assert store.get_message(ALICE, "m2") == released
    assert reasons(store) == [] and store.get_mailbox(ALICE).message_count == 2
    assert not store.release_quarantined(
        held.entry.mailbox, held.entry.uid
    )  # a second release finds nothing


def test_discard_deletes_the_quarantined_message_and_its_last_object_reference(
    store: Store, alice: str
) -> None:
    send(store, "m1", Verdicts(spam="FAIL"))

    assert store.discard_quarantined(ALICE, "m1")

    assert reasons(store) == []
    assert not object_exists(store, "incoming/m1")
    assert not store.discard_quarantined(ALICE, "m1")


def test_removing_a_mailbox_discards_its_quarantine_and_its_policy(
    store: Store, alice: str
) -> None:
    store.put_policy(ALICE, Policy(spam=Disposition.QUARANTINE, max_messages=7))
    send(store, "m1", Verdicts(spam="FAIL"))

    store.remove_mailbox(ALICE)
    store.create_mailbox(ALICE, "hash")

    assert reasons(store) == []
    assert store.get_policy(ALICE) == Policy()
    assert not object_exists(store, "incoming/m1")
