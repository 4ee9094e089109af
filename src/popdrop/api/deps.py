"""What routes depend on: settings, the storage faces, who is calling, and the mailbox a route
names (which the caller must be allowed to see, and which must exist).

This is the API's composition root: the one place it builds a `Store`, handed to routes as the
API's face (`ApiStore`) or, on admin-only routes, the admin face (`AdminStore`). Tests replace
`get_settings` (and with it the store) through `app.dependency_overrides`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security.http import HTTPBase

from popdrop.api import problems
from popdrop.api.callers import Access, Caller, authenticate
from popdrop.api.params import MailboxAddress
from popdrop.auth.authenticator import Authenticator
from popdrop.faces.admin import AdminStore
from popdrop.faces.api import ApiStore
from popdrop.model import Address
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


def get_admin_store(settings: SettingsDep) -> AdminStore:
    return _store_for(settings)


@lru_cache(maxsize=1)
def _authenticator_for(settings: Settings) -> Authenticator:
    return Authenticator(_store_for(settings), settings)


async def get_authenticator(settings: SettingsDep) -> Authenticator:
    """One per process: its credential cache and failure penalties span requests. Made on the
    event loop, not in the thread pool where sync dependencies run: `lru_cache` does not stop two
    threads from each building one, and two authenticators would each keep their own penalties
    and turns, so a burst of guesses could be answered in parallel."""
    return _authenticator_for(settings)


StoreDep = Annotated[ApiStore, Depends(get_store)]
AdminStoreDep = Annotated[AdminStore, Depends(get_admin_store)]


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


# The two schemes, named in the OpenAPI document; `callers.authenticate` reads the header itself
# (these never refuse anything: every refusal is its one 401).
_BEARER = HTTPBase(scheme="bearer", scheme_name="adminToken", auto_error=False)
_BASIC = HTTPBase(scheme="basic", scheme_name="mailboxPassword", auto_error=False)


async def current_caller(
    request: Request,
    settings: SettingsDep,
    authenticator: Annotated[Authenticator, Depends(get_authenticator)],
    _bearer: Annotated[object, Security(_BEARER)],
    _basic: Annotated[object, Security(_BASIC)],
) -> Caller:
    return await authenticate(request, settings, authenticator, lambda: admin_token(settings))


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_admin(caller: CallerDep) -> None:
    """Routes about no one mailbox (the mailbox list, creating one, aliases) are the admin's."""
    if not caller.is_admin:
        raise problems.ProblemError(problems.FORBIDDEN, "only the admin token may do this")


def _mailbox(access: Access) -> Callable[[MailboxAddress, CallerDep, StoreDep], Address]:
    def mailbox(address: MailboxAddress, caller: CallerDep, store: StoreDep) -> Address:
        """The path's mailbox, when the caller may reach it this way.

        Anyone but the admin and the mailbox's owner gets the 404 an unknown mailbox gets, and
        gets it before any storage is read: the same reply in the same time. The owner is told
        403 for what only the admin may do (they know their own mailbox exists).
        """
        if caller.is_admin:
            if store.get_mailbox(address) is None:
                raise problems.not_found()
            return address
        if caller.mailbox != address:
            raise problems.not_found()
        refusal = caller.refusal(access)
        if refusal is not None:
            raise problems.ProblemError(problems.FORBIDDEN, refusal)
        return address

    return mailbox


# Every route under /mailboxes/{address} takes its mailbox through one of these.
OwnMailbox = Annotated[Address, Depends(_mailbox(Access.OWNER))]
OwnMailboxByPassword = Annotated[Address, Depends(_mailbox(Access.OWNER_PASSWORD))]
AdminMailbox = Annotated[Address, Depends(_mailbox(Access.ADMIN))]


def response_limit(request: Request, settings: SettingsDep) -> int | None:
    """The largest body a reply may carry inline: POPDROP_API_INLINE_RAW_BYTES where the platform
    buffers replies (`create_app(buffered=True)`: Lambda); None under uvicorn, which streams any
    size."""
    return settings.api_inline_raw_bytes if request.app.state.buffered else None


ResponseLimit = Annotated[int | None, Depends(response_limit)]


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters the route and its dependencies take (a walk of a few nodes)."""
    names: set[str] = set()
    dependants = [route.dependant]
    while dependants:
        dependant = dependants.pop()
        names |= {param.alias for param in dependant.query_params}
        dependants += dependant.dependencies
    return frozenset(names)


def reject_unknown_query(request: Request) -> None:
    """A query parameter the route does not take is an error (400), never silently ignored."""
    route = request.scope.get("route")
    known = _query_names(route) if isinstance(route, APIRoute) else frozenset()
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise problems.ProblemError(
            problems.UNKNOWN_PARAMETER, f"unknown query parameters: {', '.join(unknown)}"
        )
