"""Who is calling: the admin (the bearer token) or a mailbox's owner (HTTP Basic with the mailbox's
address and its password or one of its app passwords, RFC 7617), and what each may do.

Every attempt goes through the daemon's authenticator (`popdrop.auth.authenticator`): the same
password check, credential cache and failure penalties per client address as POP3 logins, and
attempts from one address are checked one at a time, so a burst of guesses gains nothing. A wrong
admin token is a failed authentication like a wrong password: logged and penalised.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from fastapi import Request

from popdrop.api import problems
from popdrop.auth import app_passwords
from popdrop.auth.authenticator import Authenticator
from popdrop.model import Address
from popdrop.settings import PlaintextAuth, Settings

# The challenge of every 401 (RFC 9110 §11.6.1): either scheme will do.
CHALLENGE: Final = 'Bearer realm="popdrop", Basic realm="popdrop", charset="UTF-8"'
# Failures of the admin token are counted under this account name (penalties are per client
# address and per account, `popdrop.auth.penalty`).
_TOKEN_ACCOUNT: Final = "(admin token)"  # noqa: S105 - a name for the penalty counts


class Access(enum.Enum):
    """What a route under /mailboxes/{address} asks of its caller."""

    OWNER = "owner"  # the admin, or the owner with the password or an app password
    # The admin, or the owner with the mailbox's own password (not an app password).
    OWNER_PASSWORD = "owner-password"  # noqa: S105 - a name
    ADMIN = "admin"  # the admin only


@dataclass(frozen=True, slots=True)
class Caller:
    mailbox: Address | None  # None: the admin
    by_app_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.mailbox is None

    def refusal(self, access: Access) -> str | None:
        """Why this owner may not do what `access` asks, or None when they may."""
        if access is Access.ADMIN:
            return "only the admin token may do this"
        if access is Access.OWNER_PASSWORD and self.by_app_password:
            # A device's password must not be able to take the mailbox over.
            return "an app password cannot change the mailbox's credentials"
        return None


def unauthorized() -> problems.ProblemError:
    return problems.ProblemError(
        problems.UNAUTHORIZED,
        "credentials are missing or wrong",
        headers={"WWW-Authenticate": CHALLENGE},
    )


async def authenticate(
    request: Request,
    settings: Settings,
    authenticator: Authenticator,
    admin_token: Callable[[], str],
) -> Caller:
    """The caller these credentials prove, or a 401 after the failure penalty. Every refusal is
    the same 401, whatever was wrong (no header, another scheme, a wrong token or password, no
    such mailbox, admin access disabled)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme not in {"bearer", "basic"}:
        raise unauthorized()
    client = request.client.host if request.client else ""
    if scheme == "basic" and not _may_send_password(request, settings, client):
        raise problems.ProblemError(
            problems.INSECURE_TRANSPORT,
            "passwords are accepted over HTTPS only (POPDROP_PLAINTEXT_AUTH)",
        )
    async with authenticator.one_at_a_time(client):
        if scheme == "bearer":
            if await _is_admin_token(credentials.strip(), admin_token):
                return Caller(None)
            await authenticator.penalize(client, _TOKEN_ACCOUNT)
            raise unauthorized()
        username, password = _basic(credentials)
        mailbox = await authenticator.authenticate(username, password, client)
        if mailbox is None:
            raise unauthorized()
        by_app_password = app_passwords.match(password, mailbox.app_passwords) is not None
        return Caller(mailbox.address, by_app_password)


def _basic(credentials: str) -> tuple[str, str]:
    """RFC 7617 §2: base64 of user-id ":" password, UTF-8 (the charset the challenge names).
    Undecodable credentials are a wrong password, not an error of their own."""
    try:
        text = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, password = text.partition(":")
    return username, password


def _may_send_password(request: Request, settings: Settings, client: str) -> bool:
    """The daemon's rule for plaintext passwords (POPDROP_PLAINTEXT_AUTH) applied to HTTP: over
    HTTPS always (on Lambda, API Gateway terminates TLS); over plain HTTP only when allowed."""
    if request.url.scheme == "https" or settings.plaintext_auth is PlaintextAuth.ALWAYS:
        return True
    if settings.plaintext_auth is PlaintextAuth.LOOPBACK:
        try:
            return ipaddress.ip_address(client).is_loopback
        except ValueError:
            return False
    return False


async def _is_admin_token(presented: str, admin_token: Callable[[], str]) -> bool:
    # The token may have to be read from Secrets Manager: off the event loop.
    expected = (await asyncio.to_thread(admin_token)).encode()
    # An empty configured token disables admin access; the comparison is constant-time.
    return bool(expected) and hmac.compare_digest(presented.encode(), expected)
