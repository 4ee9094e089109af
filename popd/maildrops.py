"""One connection's storage: login, the maildrop lease, the snapshot, the commit, off the loop.

The daemon asks storage only through `popdrop.faces.pop3.MaildropStore`, synchronous boto3 behind
it: every call here runs in the default thread pool so a slow AWS request never blocks other
sessions (docs/engine.md has the measurement behind that choice). Credentials are checked by
`popdrop.auth.authenticator` (which does the same with its slow hashes). A fault is never turned
into a reply here: it travels to the session, which has the one table for that
(`popdrop.pop3.faults`).

A login takes the maildrop's lease (RFC 1939 §8: exclusive access, across every replica) under the
daemon's heartbeat (`popd.heartbeat`), which keeps it for as long as the session lives: nothing is
written per session until it ends. A session whose heartbeat was lost has lost the maildrop: its
QUIT commits nothing (`LeaseLost`); the store's fencing check makes sure of that even when this
process does not know yet (it was paused, or partitioned from DynamoDB).

`Maildrops` is shared by the daemon; each connection gets its own `MaildropSession`, which holds
that session's lease and reads, so two sessions of one process never mix up their leases (one whose
lease expired, and its successor on the same mailbox).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from popd.heartbeat import Beat, DaemonHeartbeat
from popd.listing_cache import ListingCache
from popd.reader import MessageReader, StreamBudget
from popdrop.auth.authenticator import Authenticator
from popdrop.faces.faults import LeaseLost, StoreError
from popdrop.faces.pop3 import Heartbeat, Lease, MaildropStore
from popdrop.folders import FolderChanges, FolderListing
from popdrop.logfmt import log_event
from popdrop.mime.ranges import MimeStructure
from popdrop.model import INBOX_ID, Address, FolderId, Mailbox, MessageEntry, Snapshot
from popdrop.pop3.actions import LoginRefused, LoginResult

logger = logging.getLogger("popd.maildrops")

T = TypeVar("T")
_LEASE_POLL: Final = 0.1  # seconds between attempts while waiting for a held maildrop


@dataclass(frozen=True, slots=True)
class _Hold:
    lease: Lease
    beat: Beat  # the heartbeat that keeps it


@dataclass(frozen=True, slots=True)
class _Policy:
    lease_wait_seconds: float
    read_ahead_bytes: int
    login_delay: int  # RFC 2449 §6.8 LOGIN-DELAY, seconds; 0 = not enforced
    folder_logins: bool  # POP4's `user+folder` logins (docs/pop4.md)


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
        folder_logins: bool = False,
        listing_cache_entries: int = 50_000,
    ) -> None:
        self._store = store
        self._authenticator = authenticator
        self._policy = _Policy(lease_wait_seconds, read_ahead_bytes, login_delay, folder_logins)
        self._budget = StreamBudget(stream_buffer_bytes)
        self._heartbeat = DaemonHeartbeat(store, seconds=lease_seconds)
        self._listing_cache = ListingCache(listing_cache_entries)

    def session(self) -> MaildropSession:
        return MaildropSession(
            self._store,
            self._authenticator,
            self._heartbeat,
            self._policy,
            self._budget,
            listings=self._listing_cache,
        )

    async def start(self) -> None:
        await self._heartbeat.start()

    async def stop(self) -> None:
        """The sessions are over: end the daemon's heartbeat."""
        await self._heartbeat.stop()


class MaildropSession:
    """One connection's storage: its login, its lease, its message reads, its commit."""

    def __init__(
        self,
        store: MaildropStore,
        authenticator: Authenticator,
        heartbeat: DaemonHeartbeat,
        policy: _Policy,
        budget: StreamBudget,
        *,
        listings: ListingCache,
    ) -> None:
        self._store = store
        self._kept_listings = listings
        self._authenticator = authenticator
        self._heartbeat = heartbeat
        self._policy = policy
        self._hold: _Hold | None = None
        # Each folder's snapshot (INBOX's from login, a POP4 folder's from SFLD), to know what
        # a client reading in order asks for next.
        self._listings: dict[FolderId, tuple[MessageEntry, ...]] = {}
        self.reader = MessageReader(store, budget, read_ahead_bytes=policy.read_ahead_bytes)

    async def login(self, username: str, password: str, client: str) -> LoginResult:
        """Check the credentials, then `open` the maildrop (with POP4 on, `user+folder@domain`
        opens that folder of user@domain's mailbox instead: docs/pop4.md, "Folder logins")."""
        username, folder = self._folder_login(username)
        try:
            mailbox = await self._authenticator.authenticate(username, password, client)
        except StoreError as fault:
            return _login_failed(fault)
        return LoginRefused.DENIED if mailbox is None else await self.open(mailbox, folder)

    async def login_apop(
        self, username: str, timestamp: str, digest: str, client: str
    ) -> LoginResult:
        """RFC 1939 §7 APOP: check the digest against the mailbox's APOP secret, then `open`
        (a `user+folder` name as in `login`)."""
        username, folder = self._folder_login(username)
        try:
            mailbox = await self._authenticator.authenticate_apop(
                username, timestamp, digest, client
            )
        except StoreError as fault:
            return _login_failed(fault)
        return LoginRefused.DENIED if mailbox is None else await self.open(mailbox, folder)

    def _folder_login(self, username: str) -> tuple[str, str]:
        """(the login name without its folder, the folder): Cyrus-style `user+folder` logins,
        read only with POP4 on; ("", "") folder means the maildrop (INBOX)."""
        local, at, domain = username.rpartition("@")
        if not self._policy.folder_logins or not at:
            return username, ""
        base, plus, folder = local.partition("+")
        return (f"{base}@{domain}", folder) if plus and base and folder else (username, "")

    async def open(self, mailbox: Mailbox, folder: str = "") -> LoginResult:
        """Take the authenticated mailbox's lease and snapshot its maildrop (RFC 1939 §8: the
        listing is fixed at login), unless it logged in less than LOGIN-DELAY ago (RFC 2449
        §6.8)."""
        owner = secrets.token_hex(16)
        try:
            beat = await self._heartbeat.current()
            opened = await asyncio.to_thread(
                self._open, mailbox.address, owner, beat.heartbeat, folder
            )
        except StoreError as fault:
            return _login_failed(fault)
        if isinstance(opened, LoginRefused):
            return opened
        lease, snapshot = opened
        self._hold = _Hold(lease, beat)
        self._listings = {snapshot.folder: snapshot.messages}
        return snapshot

    def _open(
        self, address: Address, owner: str, heartbeat: Heartbeat, folder: str
    ) -> tuple[Lease, Snapshot] | LoginRefused:
        lease = self._acquire(address, owner, heartbeat)
        if lease is None:
            return LoginRefused.IN_USE
        try:
            # After the lease: a login refused [IN-USE] must not start the LOGIN-DELAY clock.
            delay = self._policy.login_delay
            if delay and not self._store.record_login(address, int(time.time()), delay):
                self._heartbeat.release(lease)
                return LoginRefused.LOGIN_DELAY
            if not folder:
                return lease, Snapshot(address, self._listing(address, INBOX_ID))
            found = self._store.list_folders(address).find(folder)
            if found is None:
                self._heartbeat.release(lease)
                return LoginRefused.NO_SUCH_FOLDER
            return lease, Snapshot(address, self._listing(address, found.id), found.id)
        except BaseException:
            self._heartbeat.release(lease)
            raise

    def _listing(self, address: Address, folder: FolderId) -> tuple[MessageEntry, ...]:
        """The folder's snapshot: the one this daemon read last, when the mailbox's listing
        version says nothing changed since (`popd.listing_cache`); else read afresh. Called with
        the lease held."""
        cache = self._kept_listings
        version = self._store.listing_version(address) if cache.enabled else None
        if version is not None:
            kept = cache.get(address, folder, version, int(time.time()))
            if kept is not None:
                return kept
        listing = self._store.read_listing(address, folder)
        if version is not None:
            cache.put(address, folder, version, listing)
        return listing.messages

    def read_ahead_from(self, entry: MessageEntry, number: int) -> None:
        """RETR `number` (`entry`) is starting: fetch the start of the messages after it in its
        folder while the client downloads in order (`popd.read_ahead`)."""
        self.reader.read_ahead(number, self._listings.get(entry.folder, ()))

    # POP4's reads (docs/pop4.md): each the result, or the fault for the session to answer.

    async def list_folders(self, mailbox: Address) -> FolderListing | StoreError:
        return await _attempt(self._store.list_folders, mailbox)

    async def list_folder(
        self, mailbox: Address, folder: FolderId
    ) -> tuple[MessageEntry, ...] | StoreError:
        listed = await _attempt(self._listing, mailbox, folder)
        if not isinstance(listed, StoreError):
            self._listings[folder] = listed
        return listed

    async def mime_structure(self, entry: MessageEntry) -> MimeStructure | StoreError:
        return await _attempt(self._store.mime_structure, entry)

    def _acquire(self, address: Address, owner: str, heartbeat: Heartbeat) -> Lease | None:
        """The lease, waiting up to `lease_wait_seconds` for a holder that is just finishing."""
        self._heartbeat.settle(address)
        deadline = time.monotonic() + self._policy.lease_wait_seconds
        while (lease := self._store.acquire_lease(address, owner, heartbeat)) is None:
            if time.monotonic() + _LEASE_POLL > deadline:
                return None
            time.sleep(_LEASE_POLL)
        return lease

    async def commit(
        self,
        mailbox: Address,
        deletions: Sequence[MessageEntry],
        folders: FolderChanges | None = None,
    ) -> StoreError | None:
        """The UPDATE state (RFC 1939 §6): remove the messages marked deleted and, in a POP4
        session, make its folder changes, under the lease; the fault that stopped it, if any."""
        if not deletions and not folders:
            return None
        hold = self._hold
        try:
            if hold is None or hold.beat.lost or hold.lease.mailbox != mailbox:
                raise LeaseLost(mailbox)
            if folders:
                await asyncio.to_thread(self._store.commit_changes, hold.lease, deletions, folders)
            else:
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
        """End the session's hold on `mailbox`'s maildrop (the one it logged in to); a release that
        fails is retried by the heartbeat (`DaemonHeartbeat.release`)."""
        hold, self._hold = self._hold, None
        if hold is not None:
            await asyncio.to_thread(self._heartbeat.release, hold.lease)


async def _attempt(call: Callable[..., T], *args: object) -> T | StoreError:
    """`call(*args)` in the thread pool; the fault it raised, logged, instead of raising it."""
    try:
        return await asyncio.to_thread(call, *args)
    except StoreError as fault:
        log_event(logger, "pop4.read_failed", logging.WARNING, error=type(fault).__name__)
        return fault


def _login_failed(fault: StoreError) -> StoreError:
    log_event(logger, "login.storage_error", logging.WARNING, error=type(fault).__name__)
    return fault
