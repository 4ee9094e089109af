"""Who is logging in: credentials checked against the mailbox profile, without blocking the loop.

One place decides authentication for every mechanism that carries a password: the default domain,
the verified-credentials cache, the main password (scrypt), app passwords, and the failure penalty.
A login name enters popdrop here: `resolve_login` turns it into an `Address` once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from popdrop.auth import app_passwords
from popdrop.auth.apop import verify_apop, verify_cram_md5
from popdrop.auth.cache import CredentialCache
from popdrop.auth.identity import resolve_login
from popdrop.auth.passwords import verify_against_dummy, verify_password
from popdrop.auth.penalty import Penalties, PenaltyPolicy
from popdrop.faces.credentials import CredentialStore
from popdrop.faces.faults import StoreError
from popdrop.logfmt import log_event
from popdrop.model import InvalidPassword, Mailbox, normalize_password
from popdrop.settings import Settings

logger = logging.getLogger("popd.auth")

# Password hashes run in threads of their own, as many as the CPUs the daemon may use: scrypt is
# CPU-bound (more threads would only queue in the kernel), and each thread running one holds a
# 16 MiB working set, so the storage threads (`popd.server.IO_THREADS`) must not. Logins beyond
# that wait in the pool's queue, at most one per connection that is logging in.
HASH_THREADS: Final = max(1, len(os.sched_getaffinity(0)))
_hashing = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="popd-hash")


async def _hashed(verify: Callable[..., bool], *args: str) -> bool:
    """`verify(*args)`, a password hash, in the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, verify, *args)


class Authenticator:
    def __init__(self, store: CredentialStore, settings: Settings) -> None:
        self._store = store
        self._default_domain = settings.default_domain
        self._cache = CredentialCache(settings.credential_cache_seconds)
        self._penalties = Penalties(
            PenaltyPolicy(base=settings.auth_penalty_base, ceiling=settings.auth_penalty_max)
        )
        # Per client address: the lock its attempts take turns on, and how many hold or await it.
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def one_at_a_time(self, client: str) -> AsyncIterator[None]:
        """Check one client address's attempts one after another, each failure's penalty served
        before the next attempt is checked: a burst of guesses sent at once (as HTTP clients can)
        is answered as slowly as the same guesses sent in turn, and a right answer behind them
        comes no sooner than the penalty allows. Other addresses are not held up. The map holds
        only addresses with an attempt in progress."""
        lock, users = self._turns.get(client, (asyncio.Lock(), 0))
        self._turns[client] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[client]
            if users == 1:
                del self._turns[client]
            else:
                self._turns[client] = (lock, users - 1)

    async def authenticate(self, username: str, password: str, client: str) -> Mailbox | None:
        """The mailbox these credentials open, or None after the failure penalty has elapsed.

        Raises StoreError when storage fails (the caller answers [SYS/TEMP]).
        """
        address = resolve_login(username, self._default_domain)
        password = _login_form(password)
        found = await asyncio.to_thread(self._store.credentials, address) if address else None
        mailbox = None if found is None else found.mailbox
        if mailbox is not None and await self._password_matches(mailbox, password, client):
            return mailbox
        if mailbox is None:
            # The same scrypt work as a wrong password: the reply time does not reveal whether
            # the mailbox exists.
            await _hashed(verify_against_dummy, password)
        await self.penalize(client, address or username.lower())
        return None

    async def authenticate_apop(
        self, username: str, timestamp: str, digest: str, client: str
    ) -> Mailbox | None:
        """RFC 1939 §7 APOP: the mailbox whose shared secret makes `digest` from `timestamp`."""
        return await self._shared_secret(
            username, lambda secret: verify_apop(timestamp, digest, secret), client
        )

    async def authenticate_cram_md5(
        self, username: str, challenge: str, digest: str, client: str
    ) -> Mailbox | None:
        """RFC 2195 CRAM-MD5: the mailbox whose shared secret makes `digest` from `challenge`."""
        return await self._shared_secret(
            username, lambda secret: verify_cram_md5(challenge, digest, secret), client
        )

    async def _shared_secret(
        self, username: str, verify: Callable[[str | None], bool], client: str
    ) -> Mailbox | None:
        """An unknown mailbox, one without a shared secret and a wrong digest cost the same one
        read, one digest and one constant-time comparison, then the same failure penalty."""
        address = resolve_login(username, self._default_domain)
        found = await asyncio.to_thread(self._store.credentials, address) if address else None
        if verify(None if found is None else found.apop_secret) and found is not None:
            return found.mailbox
        await self.penalize(client, address or username.lower())
        return None

    async def penalize(self, client: str, account: str) -> None:
        """Record a failed authentication and wait out its penalty before the reply."""
        delay = self._penalties.failed(client, account)
        log_event(logger, "auth.failed", client=client, account=account, delay=delay)
        await asyncio.sleep(delay)

    async def _password_matches(self, mailbox: Mailbox, password: str, client: str) -> bool:
        if self._cache.verified(mailbox.address, password, mailbox.password_hash):
            return True
        app_password = app_passwords.match(password, mailbox.app_passwords)
        if app_password is not None:
            try:
                await asyncio.to_thread(
                    self._store.record_app_password_use,
                    mailbox.address,
                    app_password.name,
                    int(time.time()),
                    client,
                )
            except StoreError as error:  # the login stands; only the last-use record is lost
                log_event(logger, "auth.record_use_failed", logging.WARNING, error=str(error))
            return True
        if await _hashed(verify_password, password, mailbox.password_hash):
            self._cache.remember(mailbox.address, password, mailbox.password_hash)
            return True
        return False


def _login_form(password: str) -> str:
    """The password in the form it was set in (`normalize_password`: NFC, ASCII spaces), so an
    NFD keyboard opens an NFC password; one no password can have is checked as typed, and fails
    after the same work as any wrong one."""
    try:
        return normalize_password(password)
    except InvalidPassword:
        return password
