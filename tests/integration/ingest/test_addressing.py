"""Issue 6, "Addressing": case-insensitive addresses, aliases (one to several, several to one),
plus-addressing with the tag recorded, a per-domain catch-all, and mail that matches nothing."""

from __future__ import annotations

import logging

import pytest

from popdrop.events import ses_event
from popdrop.ingest import IngestResult, ingest_ses_event
from popdrop.model import Route
from popdrop.store import Store
from tests.support import stored_object

ALICE, BOB = "alice@example.test", "bob@example.test"
MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


@pytest.fixture(autouse=True)
def mailboxes(store: Store) -> None:
    for address in (ALICE, BOB):
        store.create_mailbox(address, "hash")


def send(store: Store, *recipients: str, message_id: str = "m1") -> IngestResult:
    store.put_incoming(message_id, MESSAGE)
    [result] = ingest_ses_event(store, ses_event(message_id, recipients, timestamp_ms=1))
    return result


def test_addresses_match_mailboxes_whatever_their_case(store: Store) -> None:
    """RFC 5321 §2.4 lets the local part be case-sensitive; popdrop treats it as not."""
    assert send(store, "ALICE@Example.Test").delivered == (ALICE,)


def test_an_alias_delivers_to_each_of_its_mailboxes(store: Store) -> None:
    store.put_route(Route("team@example.test", (ALICE, BOB)))

    assert send(store, "Team@example.test").delivered == (ALICE, BOB)


def test_several_addresses_reaching_one_mailbox_deliver_one_copy(store: Store) -> None:
    store.put_route(Route("sales@example.test", (ALICE,)))
    store.put_route(Route("info@example.test", (ALICE,)))

    result = send(store, "sales@example.test", "info@example.test", ALICE)

    assert result.delivered == (ALICE,)
    assert len(store.list_messages(ALICE)) == 1


def test_a_plus_address_delivers_to_the_base_mailbox_with_the_tag_recorded(store: Store) -> None:
    assert send(store, "alice+Lists@example.test").delivered == (ALICE,)

    [entry] = store.list_messages(ALICE)
    assert entry.tag == "lists"  # addresses are stored lower-case, tags with them


def test_a_plus_address_of_an_alias_reaches_its_mailboxes_with_the_tag(store: Store) -> None:
    store.put_route(Route("team@example.test", (ALICE, BOB)))

    assert send(store, "team+q3@example.test").delivered == (ALICE, BOB)
    assert [e.tag for e in store.list_messages(BOB)] == ["q3"]


def test_the_catch_all_takes_unknown_addresses_of_its_domain_only(store: Store) -> None:
    store.put_route(Route("@example.test", (BOB,)))

    result = send(store, "whoever@example.test", "x@other.test")

    assert result.delivered == (BOB,) and result.unknown == ("x@other.test",)


def test_a_mailbox_or_alias_wins_over_the_catch_all(store: Store) -> None:
    store.put_route(Route("@example.test", (BOB,)))

    assert send(store, ALICE).delivered == (ALICE,)
    assert store.list_messages(BOB) == ()


def test_an_alias_to_a_removed_mailbox_reaches_nobody(store: Store) -> None:
    store.put_route(Route("old@example.test", (BOB,)))
    store.remove_mailbox(BOB)

    assert send(store, "old@example.test").unknown == ("old@example.test",)


def test_mail_that_matches_nothing_is_recorded_and_logged_with_the_reason(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="popdrop.ingest")

    result = send(store, "nobody@example.test")

    assert result.unknown == ("nobody@example.test",) and result.delivered == ()
    assert store.ingest_record("m1").status == "done"  # reconcile leaves it alone
    [line] = [r for r in caplog.records if r.getMessage() == "ingest.message"]
    assert line.levelno == logging.WARNING
    assert "no recipient" in line.fields["reason"]
    assert stored_object(store, "incoming/m1") == MESSAGE  # kept until gc's grace period ends
