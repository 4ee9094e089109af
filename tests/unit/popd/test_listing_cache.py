"""The daemon's listing cache (`popd.listing_cache`): reused only at the same version and before
the earliest expiry, and bounded by entries, least recently used dropped first."""

from __future__ import annotations

import gc
import json
import tracemalloc

import pytest

from popd.listing_cache import ListingCache
from popdrop.model import INBOX_ID, Address, FolderId, Listing, MessageEntry, Summary
from popdrop.store import codec

ALICE = Address("alice@example.test")
BOB = Address("bob@example.test")
ARCHIVE = FolderId("f1")


def listing(count: int, fresh_until: int | None = None) -> Listing:
    entries = tuple(
        MessageEntry(ALICE, f"u{n}", f"incoming/{n}", 10, 2, 1_700_000_000_000 + n)
        for n in range(count)
    )
    return Listing(entries, fresh_until)


def test_a_listing_is_reused_at_its_version_only() -> None:
    cache = ListingCache(100)
    kept = listing(3)
    cache.put(ALICE, INBOX_ID, 7, kept)
    assert cache.get(ALICE, INBOX_ID, 7, now=0) is kept.messages
    assert cache.get(ALICE, ARCHIVE, 7, now=0) is None  # each folder apart
    assert cache.get(BOB, INBOX_ID, 7, now=0) is None
    assert cache.get(ALICE, INBOX_ID, 8, now=0) is None  # the mailbox changed
    assert cache.entries == 0  # and the stale listing was dropped
    assert cache.get(ALICE, INBOX_ID, 7, now=0) is None


def test_a_listing_with_an_entry_that_expires_is_reused_only_before_that() -> None:
    cache = ListingCache(100)
    cache.put(ALICE, INBOX_ID, 1, listing(2, fresh_until=1000))
    assert cache.get(ALICE, INBOX_ID, 1, now=999) is not None
    assert cache.get(ALICE, INBOX_ID, 1, now=1000) is None


def test_the_entries_kept_are_bounded_least_recently_used_dropped_first() -> None:
    cache = ListingCache(10)
    cache.put(ALICE, INBOX_ID, 1, listing(4))
    cache.put(ALICE, ARCHIVE, 1, listing(4))
    assert cache.get(ALICE, INBOX_ID, 1, now=0) is not None  # INBOX is now the most recent
    cache.put(BOB, INBOX_ID, 1, listing(4))
    assert cache.entries == 8
    assert cache.get(ALICE, ARCHIVE, 1, now=0) is None
    assert cache.get(ALICE, INBOX_ID, 1, now=0) is not None
    assert cache.get(BOB, INBOX_ID, 1, now=0) is not None


def test_a_listing_larger_than_the_bound_is_not_kept_and_a_newer_one_replaces_the_old() -> None:
    cache = ListingCache(10)
    cache.put(ALICE, INBOX_ID, 1, listing(4))
    cache.put(ALICE, INBOX_ID, 2, listing(5))
    assert cache.entries == 5
    cache.put(ALICE, INBOX_ID, 3, listing(11))
    assert cache.entries == 0
    assert cache.get(ALICE, INBOX_ID, 3, now=0) is None


def test_size_zero_turns_it_off() -> None:
    cache = ListingCache(0)
    assert not cache.enabled
    cache.put(ALICE, INBOX_ID, 1, listing(0))
    assert cache.get(ALICE, INBOX_ID, 1, now=0) is None
    with pytest.raises(ValueError, match="negative"):
        ListingCache(-1)


def test_empty_listings_count_one_each_so_their_number_is_bounded_too() -> None:
    cache = ListingCache(3)
    for n in range(10):
        cache.put(Address(f"m{n}@example.test"), INBOX_ID, 1, listing(0))
    assert cache.entries == 3
    assert cache.get(Address("m9@example.test"), INBOX_ID, 1, now=0) == ()
    assert cache.get(Address("m0@example.test"), INBOX_ID, 1, now=0) is None


def test_a_listed_entry_holds_at_most_half_a_kilobyte() -> None:
    """The bound docs/engine.md states per cached entry (0.5 KB), measured with tracemalloc on
    entries decoded from lean items as a Query returns them: its strings and the entry, the
    absent summary and verdicts shared (`popdrop.store.codec`)."""
    count = 5000
    blob = json.dumps(
        [
            codec.entry_item(
                MessageEntry(
                    ALICE,
                    f"0000018c{n:08d}abcdefabcdef0123456789ab",  # an SES-sized uid
                    f"incoming/{n:08d}q3kq5i0v2mfnpp0g5rl2vks0hmo1gtdd9h81",
                    40_000 + n,
                    900,
                    1_700_000_000_000 + n,
                    Summary(subject=f"report {n}", sender="carol@example.org"),
                )
            )
            for n in range(count)
        ]
    )
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        items = json.loads(blob)
        entries = tuple(codec.entry_from_item(ALICE, item) for item in items)
        del items
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(entries) == count
    assert held / count <= 512
