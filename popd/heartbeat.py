"""This daemon's heartbeat: the one item whose renewals keep every lease its sessions hold.

A session's lease names its daemon and stays valid while that daemon's heartbeat is fresh
(docs/engine.md, "Exclusive access across replicas"). The daemon renews one item every third of
`POPDROP_LEASE_SECONDS`, however many sessions it holds, so an idle session costs no writes.

When renewals fail until the heartbeat has run out, or a renewal finds that it has (the daemon was
paused or cut off from DynamoDB for longer than its period), every lease it kept is lost: another
daemon may have taken those maildrops over, so the sessions holding them must not commit. The next
login starts a new heartbeat under a new id; a heartbeat that ran out never comes back.

A lease whose release failed would stay held for as long as the heartbeat lives, not for a lease
period as before: the heartbeat owes it a release, retried after every renewal and before the next
login to that maildrop here, until one succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from popdrop.faces.faults import LeaseLost, StoreError
from popdrop.faces.pop3 import Heartbeat, Lease, MaildropStore
from popdrop.logfmt import log_event
from popdrop.model import Address

logger = logging.getLogger("popd.heartbeat")


class Beat:
    """One heartbeat's life: the leases taken under it are held while `lost` is False."""

    __slots__ = ("heartbeat", "lost")

    def __init__(self, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat
        self.lost = False


class DaemonHeartbeat:
    """Started with the daemon (or by the next login, while storage cannot be reached), renewed
    in the background, ended when the daemon stops."""

    def __init__(self, store: MaildropStore, *, seconds: float) -> None:
        self._store = store
        self._seconds = seconds
        self._beat: Beat | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        # Leases of ended sessions whose release failed (one per maildrop: a newer lease of the
        # same maildrop would have needed this one released first).
        self._owed: dict[Address, Lease] = {}

    async def start(self) -> None:
        """Start beating before the first login, so that no login waits for it; when storage
        fails now, the first login tries again."""
        try:
            await self.current()
        except StoreError as error:
            log_event(logger, "heartbeat.start_failed", logging.WARNING, error=type(error).__name__)

    async def current(self) -> Beat:
        """The live heartbeat, started first when there is none; raises `StoreError` when it
        cannot be started (the login fails with [SYS/TEMP])."""
        beat = self._beat
        if beat is not None and not beat.lost:
            return beat
        async with self._starting:
            beat = self._beat
            if beat is None or beat.lost:
                daemon = secrets.token_hex(8)
                heartbeat = await asyncio.to_thread(
                    self._store.start_heartbeat, daemon, seconds=self._seconds
                )
                beat = self._beat = Beat(heartbeat)
                self._renewal = asyncio.create_task(self._keep(beat), name="heartbeat")
                log_event(logger, "heartbeat.started", daemon=daemon, seconds=self._seconds)
            return beat

    async def _keep(self, beat: Beat) -> None:
        """Renew every third of the period; give up when the heartbeat ran out, or would have
        before the next attempt while storage failed."""
        interval = self._seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                beat.heartbeat = await asyncio.to_thread(
                    self._store.renew_heartbeat, beat.heartbeat
                )
                for lease in list(self._owed.values()):
                    await asyncio.to_thread(self.settle, lease.mailbox)
            except LeaseLost:
                break
            except StoreError as error:
                log_event(
                    logger, "heartbeat.renew_failed", logging.WARNING, error=type(error).__name__
                )
                if time.time() * 1000 + interval * 1000 >= beat.heartbeat.until_ms:
                    break
        beat.lost = True
        log_event(logger, "heartbeat.lost", logging.WARNING, daemon=beat.heartbeat.daemon)

    def release(self, lease: Lease) -> None:
        """Give a session's maildrop back (in a worker thread); owe it when storage fails."""
        try:
            self._store.release_lease(lease)
        except StoreError as error:
            self._owed[lease.mailbox] = lease
            log_event(
                logger,
                "lease.release_failed",
                logging.WARNING,
                mailbox=lease.mailbox,
                error=type(error).__name__,
            )

    def settle(self, address: Address) -> None:
        """Retry the release owed for `address`'s maildrop, if any (in a worker thread)."""
        lease = self._owed.pop(address, None)
        if lease is not None:
            self.release(lease)

    async def stop(self) -> None:
        """End the heartbeat (the daemon stops, its sessions are over): a lease whose release
        failed is free at once rather than when the heartbeat would have run out."""
        if self._renewal is not None:
            self._renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewal
        beat = self._beat
        if beat is None or beat.lost:
            return
        beat.lost = True
        try:
            await asyncio.to_thread(self._store.end_heartbeat, beat.heartbeat)
        except StoreError as error:
            log_event(logger, "heartbeat.end_failed", logging.WARNING, error=type(error).__name__)
