"""What routes depend on: settings, the store, the admin check, validated path parameters.

Tests replace `get_settings` (and with it the store) through `app.dependency_overrides`.
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from popdrop.model import is_valid_uid, normalize_address
from popdrop.settings import Settings, get_settings
from popdrop.store import Store

SettingsDep = Annotated[Settings, Depends(get_settings)]


@lru_cache(maxsize=1)
def _store_for(settings: Settings) -> Store:
    return Store.from_settings(settings)


def get_store(settings: SettingsDep) -> Store:
    """One store (and so one set of boto3 clients) per process, reused by every request."""
    return _store_for(settings)


StoreDep = Annotated[Store, Depends(get_store)]

# auto_error=False: a missing or malformed header gets the same reply as a wrong token.
_bearer = HTTPBearer(auto_error=False)


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admit a request only with `Authorization: Bearer <POPDROP_API_TOKEN>`.

    An empty configured token disables admin access. Every refusal is the same 401, so the reply
    never tells whether the header, the scheme or the token was wrong, or access is disabled.
    """
    expected = settings.api_token.encode()
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
