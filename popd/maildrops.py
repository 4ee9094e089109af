"""One connection's storage: login, the maildrop lease, the snapshot, the commit, off the loop.

The daemon asks storage only through `popdrop.faces.pop3.MaildropStore`, synchronous boto3 behind
it: every call here runs in the default thread pool so a slow AWS request never blocks other
sessions (docs/engine.md has the measurement behind that choice). Credentials are checked by
`popd.authenticator` (which does the same with its slow hashes). A fault is never turned into a
reply here: it travels to the session, which has the one table for that (`popdrop.pop3.faults`).

A login takes the maildrop's lease (RFC 1939 §8: exclusive access, across every replica) and a task
renews it while the session lives. A session whose renewal failed has lost the maildrop: its QUIT
commits nothing (`LeaseLost`); the store's fencing check makes sure of that even when this process
does not know yet (it was paused, or partitioned from DynamoDB).

`Maildrops` is shared by the daemon; each connection gets its own `MaildropSession`, which holds
that session's lease and reads, so two sessions of one process never mix up their leases (one whose
lease expired, and its successor on the same mailbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from popd.authenticator import Authenticator
from popd.reader import MessageReader, StreamBudget
from popdrop.faces.faults import LeaseLost, StoreError
from popdrop.faces.pop3 import Lease, MaildropStore
from popdrop.logfmt import log_event
from popdrop.model import Address, Mailbox, MessageEntry, Snapshot
from popdrop.pop3.actions import LoginRefused, LoginResult

logger = logging.getLogger("popd.maildrops")

_LEASE_POLL: Final = 0.1  # seconds between attempts while waiting for a held maildrop


@dataclass
class _Hold:
    lease: Lease
    renewal: asyncio.Task[None] | None = None
    lost: bool = False


@dataclass(frozen=True, slots=True)
class _Policy:
    lease_seconds: float
    lease_wait_seconds: float
    read_ahead_bytes: int
    login_delay: int  # RFC 2449 §6.8 LOGIN-DELAY, seconds; 0 = not enforced


class Maildrops:
    """The daemon's maildrops: a factory of per-connection `MaildropSession`s."""

    def __init__(
        self,
        store: MaildropStore,
        authenticator: Authenticator,
        *,
        lease_seconds: float = 30.0,
        lease_wait_seconds: float = 2.0,
        read_ahead_bytes: int = 65536,
        stream_buffer_bytes: int = 64 * 1024 * 1024,
        login_delay: int = 0,
    ) -> None:
        self._store = store
        self._authenticator = authenticator
        self._policy = _Policy(lease_seconds, lease_wait_seconds, read_ahead_bytes, login_delay)
        self._budget = StreamBudget(stream_buffer_bytes)

    def session(self) -> MaildropSession:
        return MaildropSession(self._store, self._authenticator, self._policy, self._budget)


class MaildropSession:
    """One connection's storage: its login, its lease, its message reads, its commit."""

    def __init__(
        self,
        store: MaildropStore,
        authenticator: Authenticator,
        policy: _Policy,
        budget: StreamBudget,
    ) -> None:
        self._store = store
        self._authenticator = authenticator
        self._policy = policy
        self._hold: _Hold | None = None
        self._listing: tuple[MessageEntry, ...] = ()  # the snapshot, to know what comes next
        self.reader = MessageReader(store, budget, read_ahead_bytes=policy.read_ahead_bytes)

    async def login(self, username: str, password: str, client: str) -> LoginResult:
        """Check the credentials, then `open` the maildrop."""
        try:
            mailbox = await self._authenticator.authenticate(username, password, client)
        except StoreError as fault:
            return _login_failed(fault)
        return LoginRefused.DENIED if mailbox is None else await self.open(mailbox)

    async def login_apop(
        self, username: str, timestamp: str, digest: str, client: str
    ) -> LoginResult:
        """RFC 1939 §7 APOP: check the digest against the mailbox's APOP secret, then `open`."""
        try:
            mailbox = await self._authenticator.authenticate_apop(
                username, timestamp, digest, client
            )
        except StoreError as fault:
            return _login_failed(fault)
        return LoginRefused.DENIED if mailbox is None else await self.open(mailbox)

    async def open(self, mailbox: Mailbox) -> LoginResult:
        """Take the authenticated mailbox's lease and snapshot its maildrop (RFC 1939 §8: the
        listing is fixed at login), unless it logged in less than LOGIN-DELAY ago (RFC 2449
        §6.8)."""
        owner = secrets.token_hex(16)
        try:
            opened = await asyncio.to_thread(self._open, mailbox.address, owner)
        except StoreError as fault:
            return _login_failed(fault)
        if isinstance(opened, LoginRefused):
            return opened
        lease, snapshot = opened
        hold = self._hold = _Hold(lease)
        hold.renewal = asyncio.create_task(self._renew(hold), name=f"lease {lease.mailbox}")
        self._listing = snapshot.messages
        return snapshot

    def _open(self, address: Address, owner: str) -> tuple[Lease, Snapshot] | LoginRefused:
        lease = self._acquire(address, owner)
        if lease is None:
            return LoginRefused.IN_USE
        try:
            # After the lease: a login refused [IN-USE] must not start the LOGIN-DELAY clock.
            delay = self._policy.login_delay
            if delay and not self._store.record_login(address, int(time.time()), delay):
                self._give_back(lease)
                return LoginRefused.LOGIN_DELAY
            return lease, Snapshot(address, self._store.list_messages(address))
        except BaseException:
            self._give_back(lease)
            raise

    def read_ahead_from(self, number: int) -> None:
        """RETR `number` is starting: fetch the start of the messages after it while the client
        downloads in order (`popd.read_ahead`)."""
        self.reader.read_ahead(number, self._listing)

    def _acquire(self, address: Address, owner: str) -> Lease | None:
        """The lease, waiting up to `lease_wait_seconds` for a holder that is just finishing."""
        policy = self._policy
        deadline = time.monotonic() + policy.lease_wait_seconds
        while (
            lease := self._store.acquire_lease(address, owner, seconds=policy.lease_seconds)
        ) is None:
            if time.monotonic() + _LEASE_POLL > deadline:
                return None
            time.sleep(_LEASE_POLL)
        return lease

    async def _renew(self, hold: _Hold) -> None:
        """Renew every third of the lease's duration; give up when the lease is lost or ran out
        while storage failed (then the session must not commit)."""
        interval = self._policy.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                hold.lease = await asyncio.to_thread(self._store.renew_lease, hold.lease)
            except LeaseLost:
                break
            except StoreError as error:
                log_event(logger, "lease.renew_failed", logging.WARNING, error=type(error).__name__)
                if time.time() * 1000 + interval * 1000 >= hold.lease.until_ms:
                    break
        hold.lost = True
        log_event(logger, "lease.lost", logging.WARNING, mailbox=hold.lease.mailbox)

    async def commit(
        self, mailbox: Address, deletions: Sequence[MessageEntry]
    ) -> StoreError | None:
        """The UPDATE state (RFC 1939 §6): remove the messages marked deleted, under the lease;
        the fault that stopped it, if any."""
        if not deletions:
            return None
        hold = self._hold
        try:
            if hold is None or hold.lost or hold.lease.mailbox != mailbox:
                raise LeaseLost(mailbox)
            await asyncio.to_thread(self._store.commit_deletions, hold.lease, deletions)
        except StoreError as fault:
            log_event(
                logger,
                "commit.fault",
                logging.WARNING,
                mailbox=mailbox,
                deletions=len(deletions),
                error=type(fault).__name__,
                detail=str(fault)[:200],
            )
            return fault
        return None

    async def release(self, mailbox: Address) -> None:
        """End the session's hold on `mailbox`'s maildrop (the one it logged in to). When storage
        fails, the lease is left to expire (within `lease_seconds`)."""
        hold, self._hold = self._hold, None
        if hold is None:
            return
        if hold.renewal is not None:
            hold.renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hold.renewal
        await asyncio.to_thread(self._give_back, hold.lease)

    def _give_back(self, lease: Lease) -> None:
        try:
            self._store.release_lease(lease)
        except StoreError as error:
            log_event(
                logger,
                "lease.release_failed",
                logging.WARNING,
                mailbox=lease.mailbox,
                error=type(error).__name__,
            )


def _login_failed(fault: StoreError) -> StoreError:
    log_event(logger, "login.storage_error", logging.WARNING, error=type(fault).__name__)
    return fault
