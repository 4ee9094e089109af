"""`popdrop gc` as an operator runs it: it reports what it deleted, honours the grace period and
--dry-run, a second run finds nothing (DESIGN invariant 8), and --full lists the bucket."""

from __future__ import annotations

from popdrop.store import Store
from tests.integration.cli.test_cli import popdrop
from tests.support import object_exists, stored_object

MESSAGE = b"Subject: lost\r\n\r\nnobody filed me\r\n"


def test_gc_deletes_unreferenced_objects_past_the_grace_period_and_reports_them(
    store: Store,
) -> None:
    key = store.put_incoming("orphan", MESSAGE)
    assert popdrop(store, "reconcile", "--grace", "0").returncode == 0  # for nobody: unrouted

    kept = popdrop(store, "gc")  # default grace: two days
    assert kept.returncode == 0, kept.stderr
    assert b"deleted 0 unreferenced; 1 unreferenced but younger" in kept.stdout
    assert stored_object(store, key) == MESSAGE

    dry = popdrop(store, "gc", "--grace-seconds", "0", "--dry-run")
    assert dry.stdout.startswith(f"would delete {key}\n".encode())
    assert stored_object(store, key) == MESSAGE

    swept = popdrop(store, "gc", "--grace-seconds", "0")
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.startswith(f"deleted {key}\n".encode())
    assert not object_exists(store, key)

    again = popdrop(store, "gc", "--grace-seconds", "0")
    assert b"examined 0 objects; deleted 0 unreferenced" in again.stdout


def test_gc_refuses_a_negative_grace_period(store: Store) -> None:
    result = popdrop(store, "gc", "--grace-seconds", "-1")
    assert result.returncode == 2
    assert b"must not be negative" in result.stderr


def test_gc_full_finds_an_object_that_was_never_ingested(store: Store) -> None:
    key = store.put_incoming("orphan", MESSAGE)

    regular = popdrop(store, "gc", "--grace-seconds", "0")
    full = popdrop(store, "gc", "--grace-seconds", "0", "--full")

    assert b"examined 0 objects" in regular.stdout
    assert full.returncode == 0, full.stderr
    assert full.stdout.startswith(f"deleted {key}\n".encode())
    assert not object_exists(store, key)
