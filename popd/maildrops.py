"""The daemon's storage face: login, streaming and commit, run off the event loop.

The store is synchronous boto3; every call here runs in the default thread pool so a slow AWS
request never blocks other sessions. Password verification (scrypt) runs there too, for the same
reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Iterator, Sequence

from popd.authenticator import Authenticator
from popdrop.logfmt import log_event
from popdrop.model import Mailbox, Maildrop, MessageEntry
from popdrop.pop3.actions import LoginOutcome
from popdrop.store import Store
from popdrop.store.errors import StorageUnavailable, StoreError

logger = logging.getLogger("popd.maildrops")


Login = tuple[LoginOutcome, Maildrop | None]


class Maildrops:
    def __init__(self, store: Store, authenticator: Authenticator, *, login_delay: int = 0) -> None:
        self._store = store
        self._authenticator = authenticator
        self._login_delay = login_delay  # RFC 2449 §6.8 LOGIN-DELAY, seconds; 0 = not enforced

    async def login(self, username: str, password: str, client: str) -> Login:
        """Check the credentials and snapshot the maildrop (RFC 1939 §8: fixed at login)."""
        try:
            mailbox = await self._authenticator.authenticate(username, password, client)
        except StoreError as error:
            return _storage_failed(error)
        if mailbox is None:
            return LoginOutcome.DENIED, None
        return await self.open(mailbox)

    async def login_apop(self, username: str, timestamp: str, digest: str, client: str) -> Login:
        """RFC 1939 §7 APOP: check the digest against the mailbox's APOP secret, then as `login`."""
        try:
            mailbox = await self._authenticator.authenticate_apop(
                username, timestamp, digest, client
            )
        except StoreError as error:
            return _storage_failed(error)
        if mailbox is None:
            return LoginOutcome.DENIED, None
        return await self.open(mailbox)

    async def open(self, mailbox: Mailbox) -> Login:
        """Take the authenticated mailbox's maildrop and snapshot it (RFC 1939 §8), unless it
        logged in less than LOGIN-DELAY ago (RFC 2449 §6.8)."""
        try:
            return await asyncio.to_thread(self._open, mailbox.address)
        except StoreError as error:
            return _storage_failed(error)

    def _open(self, address: str) -> Login:
        if self._login_delay and not self._store.record_login(
            address, int(time.time()), self._login_delay
        ):
            return LoginOutcome.LOGIN_DELAY, None
        return LoginOutcome.OK, Maildrop(address, self._store.list_messages(address))

    async def chunks(
        self, entry: MessageEntry, *, chunk_size: int = 65536
    ) -> AsyncGenerator[bytes, None]:
        """The stored object in chunks; each chunk is read in the thread pool (back-pressure is
        the caller's: it asks for the next chunk only after the last one was written)."""
        stream: Iterator[bytes] = await asyncio.to_thread(
            self._store.iter_object, entry.object_key, chunk_size=chunk_size
        )
        while (chunk := await asyncio.to_thread(next, stream, b"")) != b"":
            yield chunk

    async def commit(self, maildrop: str, deletions: Sequence[MessageEntry]) -> bool:
        """The UPDATE state (RFC 1939 §6): remove the messages marked deleted."""
        if not deletions:
            return True
        try:
            await asyncio.to_thread(self._store.commit_deletions, maildrop, deletions)
        except StoreError as error:
            log_event(
                logger,
                "commit.storage_error",
                logging.WARNING,
                mailbox=maildrop,
                deletions=len(deletions),
                error=type(error).__name__,
            )
            return False
        return True

    async def release(self, maildrop: str) -> None:
        """End a session's hold on the maildrop.

        Exclusive access across replicas (a DynamoDB lease) is the maildrop engine's next step;
        until it lands there is nothing to give back.
        """


def _storage_failed(error: StoreError) -> Login:
    """RFC 3206 §4: [SYS/TEMP] when retrying may help, [SYS/PERM] when an operator must act."""
    log_event(logger, "login.storage_error", logging.WARNING, error=type(error).__name__)
    if isinstance(error, StorageUnavailable):
        return LoginOutcome.TEMPORARY_FAILURE, None
    return LoginOutcome.PERMANENT_FAILURE, None
