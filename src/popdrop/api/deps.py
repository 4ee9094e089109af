"""What routes depend on: settings, the storage face, the admin check, validated path parameters,
and the mailbox a route names (it must exist).

This is the API's composition root: the one place it builds a `Store`, handed to routes as the
API's face (`ApiStore`). Tests replace `get_settings` (and with it the store) through
`app.dependency_overrides`. Addresses in paths are normalised here, as FastAPI validates them.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from popdrop.faces.api import ApiStore
from popdrop.model import Address, is_valid_uid, normalize_address
from popdrop.settings import Settings, get_settings
from popdrop.store import Store
from popdrop.store.secrets import Secrets

SettingsDep = Annotated[Settings, Depends(get_settings)]


@lru_cache(maxsize=1)
def _store_for(settings: Settings) -> Store:
    return Store.from_settings(settings)


def get_store(settings: SettingsDep) -> ApiStore:
    """One store (and so one set of boto3 clients) per process, reused by every request."""
    return _store_for(settings)


StoreDep = Annotated[ApiStore, Depends(get_store)]


@lru_cache(maxsize=1)
def _secrets() -> Secrets:
    return Secrets.from_environment()


# The token read from POPDROP_API_TOKEN_SECRET, per secret: (the token, when to read it again).
_token_cache: dict[str, tuple[str, float]] = {}


def admin_token(settings: Settings) -> str:
    """POPDROP_API_TOKEN, or the text of the POPDROP_API_TOKEN_SECRET secret, read at most once
    per `api_token_cache_seconds` (so a rotated token is honoured within that time)."""
    secret = settings.api_token_secret
    if not secret:
        return settings.api_token
    now = time.monotonic()
    cached = _token_cache.get(secret)
    if cached is None or cached[1] <= now:
        cached = (_secrets().current(secret).text.strip(), now + settings.api_token_cache_seconds)
        _token_cache[secret] = cached
    return cached[0]


# auto_error=False: a missing or malformed header gets the same reply as a wrong token.
_bearer = HTTPBearer(auto_error=False)


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admit a request only with `Authorization: Bearer <the admin token>` (`admin_token`).

    An empty configured token disables admin access. Every refusal is the same 401, so the reply
    never tells whether the header, the scheme or the token was wrong, or access is disabled.
    """
    expected = admin_token(settings).encode()
    presented = credentials.credentials.encode() if credentials else b""
    if not (expected and hmac.compare_digest(presented, expected)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _valid_uid(uid: str) -> str:
    if not is_valid_uid(uid):
        raise ValueError("not a message unique id")
    return uid


# Path parameters that fail these checks are answered 422 by FastAPI's request validation.
MailboxAddress = Annotated[Address, AfterValidator(normalize_address)]
MessageUid = Annotated[str, AfterValidator(_valid_uid)]


def _existing_mailbox(not_found: str) -> Callable[[MailboxAddress, StoreDep], Address]:
    def existing_mailbox(address: MailboxAddress, store: StoreDep) -> Address:
        """The path's mailbox; 404 when there is none."""
        if store.get_mailbox(address) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=not_found)
        return address

    return existing_mailbox


# Every route under /mailboxes/{address} takes its mailbox through one of these. A route about
# one message answers an unknown mailbox exactly as an unknown message: the same 404.
KnownMailbox = Annotated[Address, Depends(_existing_mailbox("mailbox not found"))]
MessageMailbox = Annotated[Address, Depends(_existing_mailbox("message not found"))]
