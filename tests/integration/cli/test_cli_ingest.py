"""Issue 6's operator commands, as subprocesses: `popdrop alias`, `popdrop quarantine`,
`popdrop mailbox policy` (`popdrop reconcile` is in tests/integration/ingest/test_reconcile.py)."""

from __future__ import annotations

from pathlib import Path

from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event
from popdrop.model import Disposition, Policy, Route, Verdicts
from popdrop.store import Store
from tests.integration.cli.test_cli import popdrop

ALICE, BOB = "alice@example.test", "bob@example.test"


def mailboxes(store: Store) -> None:
    for address in (ALICE, BOB):
        store.create_mailbox(address, "hash")


def test_alias_add_list_remove_and_a_catch_all(store: Store) -> None:
    mailboxes(store)

    assert popdrop(store, "alias", "add", "Team@Example.test", ALICE, BOB).returncode == 0
    assert popdrop(store, "alias", "add", "@Example.test", BOB).returncode == 0
    listed = popdrop(store, "alias", "list").stdout.decode()
    assert f"team@example.test\t{ALICE}, {BOB}" in listed
    assert f"@example.test\t{BOB}" in listed

    assert popdrop(store, "alias", "remove", "team@example.test").returncode == 0
    assert [route.address for route in store.list_routes()] == ["@example.test"]


def test_an_alias_to_a_missing_mailbox_is_refused_and_nothing_is_stored(store: Store) -> None:
    mailboxes(store)

    ran = popdrop(store, "alias", "add", "team@example.test", ALICE, "ghost@example.test")

    assert ran.returncode == 2 and b"no such mailbox: ghost@example.test" in ran.stderr
    assert store.list_routes() == []


def test_quarantine_list_release_and_discard(store: Store) -> None:
    mailboxes(store)
    for message_id in ("spam-1", "spam-2"):
        store.put_incoming(message_id, b"Subject: offer\r\n\r\nbody\r\n")
        event = ses_event(message_id, [ALICE], timestamp_ms=1, verdicts=Verdicts(spam="FAIL"))
        ingest_ses_event(store, event)

    listed = popdrop(store, "quarantine", "list", ALICE).stdout.decode()
    assert "spam-1\t" in listed and "spam=FAIL\toffer" in listed

    assert popdrop(store, "quarantine", "release", ALICE, "spam-1").returncode == 0
    assert popdrop(store, "quarantine", "discard", ALICE, "spam-2").returncode == 0
    assert [entry.uid for entry in store.list_messages(ALICE)] == ["spam-1"]
    assert store.list_quarantined(ALICE) == []
    assert popdrop(store, "quarantine", "release", ALICE, "spam-1").returncode == 2


def test_mailbox_policy_shows_the_defaults_and_changes_only_what_is_given(store: Store) -> None:
    mailboxes(store)

    shown = popdrop(store, "mailbox", "policy", ALICE).stdout.decode()
    assert "spam=FAIL\tquarantine" in shown and "virus=FAIL\tdrop" in shown

    ran = popdrop(store, "mailbox", "policy", ALICE, "--dmarc", "quarantine", "--max-messages", "5")
    assert ran.returncode == 0, ran.stderr
    assert store.get_policy(ALICE) == Policy(dmarc=Disposition.QUARANTINE, max_messages=5)
    assert popdrop(store, "mailbox", "policy", ALICE, "--spam", "keep").returncode == 2


def test_routes_made_by_the_cli_are_what_ingest_uses(store: Store) -> None:
    mailboxes(store)
    popdrop(store, "alias", "add", "team@example.test", BOB)

    assert store.list_routes() == [Route("team@example.test", (BOB,))]


def test_deliver_resolves_plus_addresses_aliases_and_catch_alls_as_ingest_does(
    store: Store, tmp_path: Path
) -> None:
    """Issue 15: SMTP accepted `alice+news@...` while `popdrop deliver` said "no such mailbox"."""
    mailboxes(store)
    store.put_route(Route("team@example.test", (BOB,)))
    store.put_route(Route("@catch.test", (BOB,)))
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    for recipient in ("alice+news@example.test", "team@example.test", "anyone@catch.test"):
        ran = popdrop(store, "deliver", "--to", recipient, str(message))
        assert ran.returncode == 0, ran.stderr
    [alice] = store.list_messages(ALICE)
    assert alice.tag == "news"
    assert len(store.list_messages(BOB)) == 2


def test_deliver_reports_a_quarantine_as_such(store: Store, tmp_path: Path) -> None:
    """Issue 15: a quarantined delivery was reported as "delivered to nobody"."""
    mailboxes(store)
    store.put_policy(ALICE, Policy(max_messages=1))
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    assert popdrop(store, "deliver", "--to", ALICE, str(message)).returncode == 0
    ran = popdrop(store, "deliver", "--to", ALICE, "--to", BOB, str(message))
    assert ran.returncode == 0, ran.stderr
    out = ran.stdout.decode()
    assert f"delivered to {BOB}" in out
    assert f"quarantined in {ALICE} (over quota: 1 messages)" in out
    assert "nobody" not in out
    assert len(store.list_quarantined(ALICE)) == 1
