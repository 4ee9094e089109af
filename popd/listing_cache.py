"""The daemon's listings, kept between logins so that a maildrop that did not change is not read
again (docs/engine.md, "Listing cache").

A login takes the lease, reads the mailbox's listing version (one small consistent read of the
profile) and reuses the listing this daemon last read for that folder at that version; only when
the version moved on (or the listing is not here) is the folder read, one Query page per 1 MB of
entries. A client that polls every minute and leaves its mail on the server reads a 2,000-message
listing once, not once a minute.

Why a listing kept at version v is the folder as it is at version v:
- the version moves on in the very transaction that puts or deletes any of the mailbox's message
  entries (`popdrop.store.mailboxes.counters`), whoever writes it: ingest, a QUIT, the API;
- it is read after the lease is taken and the listing after the version, so a listing is never
  older than the version it is kept under. It may be newer (mail filed between the two reads):
  then the version has moved on too, and the next login reads the folder again;
- a mailbox made again after a removal starts its version at a random value, so it never matches
  a listing of the old one;
- entries that expire (DynamoDB TTL) are honoured: a listing is reused only before its earliest
  expiry (`Listing.fresh_until`).

Bounded: at most `max_entries` message entries over all the listings kept (about 0.4 KB each:
docs/engine.md), an empty listing counting as one (so that a daemon that sees a great many empty
maildrops keeps a bounded number of them too), the least recently used dropped first; a listing
larger than the bound is not kept.
A session's snapshot and the kept listing are one tuple, so a logged-in maildrop costs nothing
more. Used from the thread pool (logins run there), hence the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from popdrop.model import Address, FolderId, Listing, MessageEntry


@dataclass(frozen=True, slots=True)
class _Kept:
    version: int
    listing: Listing


class ListingCache:
    def __init__(self, max_entries: int) -> None:
        if max_entries < 0:
            raise ValueError(f"a negative listing cache size: {max_entries}")
        self._max_entries = max_entries
        self._kept: OrderedDict[tuple[Address, FolderId], _Kept] = OrderedDict()
        self._entries = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._max_entries > 0

    @property
    def entries(self) -> int:
        """Entries counted against the bound, over all listings (an empty one counts one)."""
        return self._entries

    def get(
        self, address: Address, folder: FolderId, version: int, now: int
    ) -> tuple[MessageEntry, ...] | None:
        """The listing kept for this folder at this version, if it is still fresh at `now`
        (epoch seconds); None otherwise (a listing kept at another version is dropped)."""
        key = (address, folder)
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            fresh_until = kept.listing.fresh_until
            if kept.version != version or (fresh_until is not None and now >= fresh_until):
                self._drop(key)
                return None
            self._kept.move_to_end(key)
            return kept.listing.messages

    def put(self, address: Address, folder: FolderId, version: int, listing: Listing) -> None:
        """Keep `listing`, read after `version` was, dropping the least recently used listings
        until every entry fits."""
        key = (address, folder)
        size = _counted(listing)
        with self._lock:
            self._drop(key)
            if not self._max_entries or size > self._max_entries:
                return
            while self._entries + size > self._max_entries:
                self._drop(next(iter(self._kept)))
            self._kept[key] = _Kept(version, listing)
            self._entries += size

    def _drop(self, key: tuple[Address, FolderId]) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._entries -= _counted(kept.listing)


def _counted(listing: Listing) -> int:
    return max(1, len(listing.messages))
