"""Who is logging in: credentials checked against the mailbox profile, without blocking the loop.

One place decides authentication for every mechanism that carries a password: the default domain,
the verified-credentials cache, the main password (scrypt), app passwords, and the failure penalty.
A login name enters popdrop here: `resolve_login` turns it into an `Address` once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from popdrop.auth import app_passwords
from popdrop.auth.apop import verify_apop, verify_cram_md5
from popdrop.auth.cache import CredentialCache
from popdrop.auth.identity import resolve_login
from popdrop.auth.passwords import verify_against_dummy, verify_password
from popdrop.auth.penalty import Penalties, PenaltyPolicy
from popdrop.faces.faults import StoreError
from popdrop.faces.pop3 import MaildropStore
from popdrop.logfmt import log_event
from popdrop.model import InvalidPassword, Mailbox, normalize_password
from popdrop.settings import Settings

logger = logging.getLogger("popd.auth")


class Authenticator:
    def __init__(self, store: MaildropStore, settings: Settings) -> None:
        self._store = store
        self._default_domain = settings.default_domain
        self._cache = CredentialCache(settings.credential_cache_seconds)
        self._penalties = Penalties(
            PenaltyPolicy(base=settings.auth_penalty_base, ceiling=settings.auth_penalty_max)
        )

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
            await asyncio.to_thread(verify_against_dummy, password)
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
        if await asyncio.to_thread(verify_password, password, mailbox.password_hash):
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
