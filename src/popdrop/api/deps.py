"""What routes depend on: settings, the store, the admin check, validated path parameters.

Tests replace `get_settings` (and with it the store) through `app.dependency_overrides`.
"""

from __future__ import annotations

import hmac
import time
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from popdrop.model import is_valid_uid, normalize_address
from popdrop.settings import Settings, get_settings
from popdrop.store import Store
from popdrop.store.secrets import Secrets

SettingsDep = Annotated[Settings, Depends(get_settings)]


@lru_cache(maxsize=1)
def _store_for(settings: Settings) -> Store:
    return Store.from_settings(settings)


def get_store(settings: SettingsDep) -> Store:
    """One store (and so one set of boto3 clients) per process, reused by every request."""
    return _store_for(settings)


StoreDep = Annotated[Store, Depends(get_store)]


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
MailboxAddress = Annotated[str, AfterValidator(normalize_address)]
MessageUid = Annotated[str, AfterValidator(_valid_uid)]
