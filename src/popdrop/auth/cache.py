"""A short-lived cache of verified credentials, so a client polling every minute does not pay the
full scrypt hash each time.

Only successes are cached, keyed by an HMAC of (address, password) under a per-process random key:
the cache holds no password, and a wrong password never hits. Each entry remembers the stored hash
it was verified against, so a password change (a new hash) invalidates it on the next login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable


class CredentialCache:
    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,  # ~100 bytes each: about 1 MB at most
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def _fingerprint(self, address: str, password: str) -> bytes:
        message = address.encode() + b"\0" + password.encode("utf-8", "surrogateescape")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def verified(self, address: str, password: str, stored_hash: str) -> bool:
        """True when this exact password was verified against this exact stored hash recently."""
        if self._ttl <= 0:
            return False
        fingerprint = self._fingerprint(address, password)
        entry = self._entries.get(fingerprint)
        if entry is None:
            return False
        verified_hash, expires = entry
        if expires <= self._clock() or not hmac.compare_digest(verified_hash, stored_hash):
            del self._entries[fingerprint]
            return False
        return True

    def remember(self, address: str, password: str, stored_hash: str) -> None:
        if self._ttl <= 0:
            return
        fingerprint = self._fingerprint(address, password)
        self._entries[fingerprint] = (stored_hash, self._clock() + self._ttl)
        self._entries.move_to_end(fingerprint)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
