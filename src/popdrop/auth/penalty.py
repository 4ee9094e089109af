"""Slowing down password guessing without locking anyone out (sans-IO: the clock is injected).

- A failed authentication is answered only after a delay that grows with recent failures from the
  same client address *and* on the same account: the larger of the two counts. It starts at
  `base` seconds and doubles per failure up to `ceiling` (Dovecot's auth penalty grows from 2 s to
  15 s). Failures are forgotten `window` seconds after the last one.
- Only *failures* wait. A correct password is answered at once, so an attacker hammering an
  account from elsewhere slows the attacker, never the owner logging in from their own address.
- New connections from one address are rate-limited with a token bucket.

State is per daemon replica and bounded (least-recently-failed entries are evicted first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PenaltyPolicy:
    base: float = 2.0
    ceiling: float = 15.0
    window: float = 300.0
    max_tracked: int = 100_000  # addresses and accounts together; ~100 bytes each


class _Failures:
    """Failure counts per key, forgotten after the window, bounded in size."""

    def __init__(self, policy: PenaltyPolicy, clock: Callable[[], float]) -> None:
        self._policy = policy
        self._clock = clock
        self._counts: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def count(self, key: str) -> int:
        entry = self._counts.get(key)
        if entry is None:
            return 0
        failures, last = entry
        if self._clock() - last > self._policy.window:
            del self._counts[key]
            return 0
        return failures

    def add(self, key: str) -> None:
        self._counts[key] = (self.count(key) + 1, self._clock())
        self._counts.move_to_end(key)
        while len(self._counts) > self._policy.max_tracked:
            self._counts.popitem(last=False)


class Penalties:
    def __init__(
        self, policy: PenaltyPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy or PenaltyPolicy()
        self._failures = _Failures(self._policy, clock)

    def failed(self, client: str, account: str) -> float:
        """Record a failed authentication; return how long to wait before answering it."""
        self._failures.add("ip:" + client)
        self._failures.add("acct:" + account)
        return self.delay(client, account)

    def delay(self, client: str, account: str) -> float:
        failures = max(
            self._failures.count("ip:" + client), self._failures.count("acct:" + account)
        )
        if failures == 0:
            return 0.0
        return min(self._policy.base * (1 << min(failures - 1, 30)), self._policy.ceiling)


class ConnectionRate:
    """A token bucket per client address: `burst` connections at once, `per_second` after that."""

    def __init__(
        self,
        per_second: float,
        burst: int,
        *,
        max_tracked: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._max = max_tracked
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str) -> bool:
        if self._rate <= 0:
            return True
        now = self._clock()
        tokens, last = self._buckets.get(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        self._buckets.move_to_end(client)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed
