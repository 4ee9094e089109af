"""Issue 6, "Lost events": the reconcile sweep finds stored messages no event brought in and
ingests them; it is idempotent and reports what it did. Also `popdrop reconcile`."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from functions.reconcile import app
from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event
from popdrop.ingest.reconcile import SAFETY_WINDOW_MS, reconcile
from popdrop.logfmt import now_ms
from popdrop.settings import get_settings
from popdrop.store import Store
from tests.conftest import AwsCall
from tests.integration.cli.test_cli import popdrop
from tests.integration.ingest.conftest import Crash, CrashAt

ALICE, BOB = "alice@example.test", "bob@example.test"
LATER = now_ms() + 3600_000  # an hour from now: every object is past the grace period
# Later still: every object of this test is older than the checkpoint a run at LATER leaves, by
# more than the safety window.
SETTLED = LATER + SAFETY_WINDOW_MS + 3600_000


@pytest.fixture(autouse=True)
def mailboxes(store: Store) -> None:
    for address in (ALICE, BOB):
        store.create_mailbox(address, "hash")


def test_the_sweep_ingests_a_message_whose_event_was_dropped(store: Store) -> None:
    store.put_incoming("lost", b"Delivered-To: alice@example.test\r\n\r\nhello\r\n")

    report = reconcile(store, now_ms=LATER)

    assert [result.delivered for result in report.ingested] == [(ALICE,)]
    assert [entry.uid for entry in store.list_messages(ALICE)] == ["lost"]


def test_a_second_sweep_changes_nothing(store: Store) -> None:
    store.put_incoming("lost", b"To: alice@example.test\r\n\r\nhello\r\n")
    reconcile(store, now_ms=LATER)

    again = reconcile(store, now_ms=LATER)

    assert (again.scanned, again.handled, again.ingested) == (1, 1, [])
    assert len(store.list_messages(ALICE)) == 1


def test_a_sweep_reads_no_ingest_record_of_objects_before_its_checkpoint(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    """Kept messages cost the listing only: one GetItem and one PutItem (the checkpoint) per run,
    not one GetItem per object (issue 13, "Reconcile in O(new objects)")."""
    for n in range(20):
        store.put_incoming(f"m{n}", b"To: alice@example.test\r\n\r\nhello\r\n")
    reconcile(store, now_ms=SETTLED)
    aws_calls.clear()

    report = reconcile(store, now_ms=SETTLED + 1800_000)

    assert (report.settled, report.handled, report.ingested) == (20, 0, [])
    operations = sorted(call.operation for call in aws_calls)
    assert operations == ["GetItem", "ListObjectsV2", "PutItem"]


def test_objects_that_arrive_after_the_checkpoint_are_swept(store: Store) -> None:
    reconcile(store, now_ms=LATER)  # nothing yet: the checkpoint is set
    store.put_incoming("late", b"To: alice@example.test\r\n\r\nhello\r\n")

    report = reconcile(store, now_ms=SETTLED)

    assert [result.message_id for result in report.ingested] == ["late"]


def test_a_full_sweep_looks_at_every_object_again(store: Store) -> None:
    store.put_incoming("m1", b"To: alice@example.test\r\n\r\nhello\r\n")
    reconcile(store, now_ms=SETTLED)

    report = reconcile(store, now_ms=SETTLED + 1800_000, full=True)

    assert (report.settled, report.handled) == (0, 1)
    assert popdrop(store, "reconcile", "--full").returncode == 0


def test_an_old_object_whose_run_began_recently_is_looked_at_until_it_is_done(
    store: Store,
) -> None:
    """A dead-letter queue redriven two days later starts a run on an old object, which dies:
    the sweep that sees the run still young must not move its checkpoint past the object, or no
    later sweep would resume it."""
    key = store.put_incoming("m1", b"To: alice@example.test\r\n\r\nhello\r\n")
    redriven = now_ms() + 2 * 86400_000
    store.begin_ingest("m1", key, redriven, [ALICE])  # ... and the run died here

    young = reconcile(store, now_ms=redriven + 60_000)
    old = reconcile(store, now_ms=redriven + SAFETY_WINDOW_MS + 3600_000)

    assert (young.handled, young.resumed) == (1, [])
    assert [result.delivered for result in old.resumed] == [(ALICE,)]


def test_messages_whose_event_arrived_are_left_alone(store: Store) -> None:
    store.put_incoming("m1", b"To: bob@example.test\r\n\r\nhello\r\n")
    ingest_ses_event(store, ses_event("m1", [ALICE], timestamp_ms=1))  # the envelope said Alice

    report = reconcile(store, now_ms=LATER)

    assert report.handled == 1 and report.ingested == []
    assert store.list_messages(BOB) == ()


def test_objects_younger_than_the_grace_period_are_left_to_their_event(store: Store) -> None:
    store.put_incoming("new", b"To: alice@example.test\r\n\r\nhello\r\n")

    report = reconcile(store, now_ms=now_ms(), grace_seconds=600)

    assert (report.recent, report.ingested) == (1, [])
    assert store.list_messages(ALICE) == ()


def test_a_run_that_died_after_its_retries_is_resumed_with_its_own_recipients(
    store: Store, crash_at: CrashAt
) -> None:
    """The envelope said Alice and Bob (Bob as Bcc: no header names him); the run filed Alice and
    died, and the event is lost. The sweep resumes with the recorded recipients."""
    store.put_incoming("m1", b"To: alice@example.test\r\n\r\nhello\r\n")
    crash_at("TransactWriteItems", 2)  # Alice (and the record's begin), then Bob's never runs
    with pytest.raises(Crash):
        ingest_ses_event(store, ses_event("m1", [ALICE, BOB], timestamp_ms=1))

    report = reconcile(store, now_ms=LATER)

    [resumed] = report.resumed
    assert (resumed.delivered, resumed.duplicate) == ((BOB,), (ALICE,))
    assert store.ingest_record("m1").status == "done"


def test_the_sweep_stops_at_its_limit_and_says_so(store: Store) -> None:
    for n in range(3):
        store.put_incoming(f"m{n}", b"To: alice@example.test\r\n\r\nhello\r\n")

    report = reconcile(store, now_ms=LATER, limit=2)

    assert (len(report.ingested), report.truncated) == (2, True)


def test_popdrop_reconcile_prints_its_report(store: Store) -> None:
    store.put_incoming("lost", b"To: alice@example.test\r\n\r\nhello\r\n")

    ran = popdrop(store, "reconcile", "--grace", "0")

    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert (report["ingested"], report["failed"]) == (["lost"], [])
    assert len(store.list_messages(ALICE)) == 1


def run_scheduled_sweep() -> dict[str, Any]:
    """The reconcile function as its schedule runs it, configured from the environment now (its
    settings and store rebuilt, and the logging it sets up undone afterwards)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    get_settings.cache_clear()
    app.store.cache_clear()
    try:
        return app.handler({"source": "aws.events"}, object())
    finally:
        app.store.cache_clear()
        get_settings.cache_clear()
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_scheduled_function_runs_the_sweep_with_the_configured_grace(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POPDROP_RECONCILE_GRACE_SECONDS", "0")
    store.put_incoming("lost", b"To: alice@example.test\r\n\r\nhello\r\n")

    report = run_scheduled_sweep()

    assert (report["ingested"], report["failed"]) == (["lost"], [])
    assert len(store.list_messages(ALICE)) == 1
