"""Every error the API answers is an RFC 9457 problem document (`application/problem+json`) with a
stable `type` per kind of error, listed here once; docs/api.md explains each.

`type` is a relative URI reference (`/problems/<name>`, RFC 9457 §3.1.1): stable, never
dereferenced by clients, and the same on every deployment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from popdrop.admin.errors import (
    AdminError,
    InvalidName,
    InvalidPassword,
    NotQuarantined,
    UnknownMailboxes,
    UnknownRoute,
)
from popdrop.faces.faults import (
    AppPasswordConflict,
    AppPasswordNotFound,
    LeaseLost,
    MailboxExists,
    MailboxNotFound,
    ObjectNotFound,
    StorageUnavailable,
    StoreError,
)
from popdrop.logfmt import log_event

logger = logging.getLogger("popdrop.api")

MEDIA_TYPE: Final = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["/problems/not-found"])
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="what was invalid (invalid-request only): where, and why"
    )


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    status: int
    title: str

    @property
    def type(self) -> str:
        return f"/problems/{self.name}"


NOT_FOUND: Final = Kind("not-found", status.HTTP_404_NOT_FOUND, "Not found")
UNAUTHORIZED: Final = Kind("unauthorized", status.HTTP_401_UNAUTHORIZED, "Not authenticated")
FORBIDDEN: Final = Kind("forbidden", status.HTTP_403_FORBIDDEN, "Not allowed")
INSECURE_TRANSPORT: Final = Kind(
    "insecure-transport", status.HTTP_403_FORBIDDEN, "A password needs HTTPS"
)
INVALID_REQUEST: Final = Kind(
    "invalid-request", status.HTTP_422_UNPROCESSABLE_CONTENT, "Invalid request"
)
UNKNOWN_PARAMETER: Final = Kind(
    "unknown-parameter", status.HTTP_400_BAD_REQUEST, "Unknown query parameter"
)
INVALID_CURSOR: Final = Kind("invalid-cursor", status.HTTP_400_BAD_REQUEST, "Invalid cursor")
MALFORMED_BODY: Final = Kind(
    "malformed-body", status.HTTP_400_BAD_REQUEST, "Malformed request body"
)
METHOD_NOT_ALLOWED: Final = Kind(
    "method-not-allowed", status.HTTP_405_METHOD_NOT_ALLOWED, "Method not allowed"
)
MAILDROP_IN_USE: Final = Kind("maildrop-in-use", status.HTTP_409_CONFLICT, "Maildrop in use")
FOLDER_CONFLICT: Final = Kind(
    "folder-conflict", status.HTTP_409_CONFLICT, "The folders' state refuses it"
)
FOLDER_REFUSED: Final = Kind(
    "folder-refused", status.HTTP_422_UNPROCESSABLE_CONTENT, "Invalid folder request"
)
MAILBOX_EXISTS: Final = Kind("mailbox-exists", status.HTTP_409_CONFLICT, "Mailbox exists")
APP_PASSWORD_CONFLICT: Final = Kind(
    "app-password-conflict", status.HTTP_409_CONFLICT, "App password not added"
)
INVALID_PASSWORD: Final = Kind(
    "invalid-password", status.HTTP_422_UNPROCESSABLE_CONTENT, "Invalid password"
)
INVALID_NAME: Final = Kind("invalid-name", status.HTTP_422_UNPROCESSABLE_CONTENT, "Invalid name")
UNKNOWN_TARGET: Final = Kind(
    "unknown-target", status.HTTP_422_UNPROCESSABLE_CONTENT, "Unknown target mailbox"
)
MESSAGE_TOO_LARGE: Final = Kind(
    "message-too-large", status.HTTP_422_UNPROCESSABLE_CONTENT, "Message too large to parse"
)
NO_HTML: Final = Kind("no-html-body", status.HTTP_404_NOT_FOUND, "No HTML body")
RANGE_NOT_SATISFIABLE: Final = Kind(
    "range-not-satisfiable",
    status.HTTP_416_RANGE_NOT_SATISFIABLE,
    "Range not satisfiable",
)
STORAGE_UNAVAILABLE: Final = Kind(
    "storage-unavailable", status.HTTP_503_SERVICE_UNAVAILABLE, "Storage unavailable"
)
INTERNAL: Final = Kind("internal-error", status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal error")

# The same 404 for an unknown mailbox, an unknown message or part, and a mailbox the caller may
# not see: the reply says nothing about which it was.
NOT_FOUND_DETAIL: Final = "no such mailbox, message or part"


class ProblemError(Exception):
    def __init__(self, kind: Kind, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}


def not_found() -> ProblemError:
    return ProblemError(NOT_FOUND, NOT_FOUND_DETAIL)


def reply(
    kind: Kind,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    problem = Problem(type=kind.type, title=kind.title, status=kind.status, detail=detail)
    problem.errors = errors
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=kind.status,
        headers=headers,
        media_type=MEDIA_TYPE,
    )


# Each storage fault and administrative refusal a route may meet, and its problem. The cause of a
# storage fault goes to the log, never into the reply.
_FAULTS: Final[dict[type[Exception], tuple[Kind, str | None]]] = {
    ObjectNotFound: (NOT_FOUND, NOT_FOUND_DETAIL),  # deleted by a POP3 QUIT while being read
    MailboxNotFound: (NOT_FOUND, NOT_FOUND_DETAIL),
    AppPasswordNotFound: (NOT_FOUND, NOT_FOUND_DETAIL),
    NotQuarantined: (NOT_FOUND, NOT_FOUND_DETAIL),
    UnknownRoute: (NOT_FOUND, NOT_FOUND_DETAIL),
    MailboxExists: (MAILBOX_EXISTS, "a mailbox with this address exists (or is being removed)"),
    AppPasswordConflict: (
        APP_PASSWORD_CONFLICT,
        "an app password with this name exists, or the mailbox holds the most it may",
    ),
    LeaseLost: (MAILDROP_IN_USE, "another session took the maildrop; nothing was deleted"),
    StorageUnavailable: (STORAGE_UNAVAILABLE, "storage is unavailable, try again later"),
    InvalidPassword: (INVALID_PASSWORD, None),
    InvalidName: (INVALID_NAME, None),
    UnknownMailboxes: (UNKNOWN_TARGET, None),
    # Any other storage fault (access denied, a missing table): not the request's fault either.
    StoreError: (STORAGE_UNAVAILABLE, "storage failed; the cause is logged"),
}


async def _fault(request: Request, error: Exception) -> Response:
    for cause, (kind, detail) in _FAULTS.items():
        if isinstance(error, cause):
            if isinstance(error, StoreError):
                log_event(
                    logger,
                    "api.store_error",
                    logging.WARNING,
                    path=request.url.path,
                    error=repr(error),
                )
            return reply(kind, detail or str(error))
    return internal(request.url.path, error)


def internal(path: str, error: BaseException) -> Response:
    log_event(logger, "api.internal_error", logging.ERROR, path=path, error=repr(error))
    return reply(INTERNAL, "the request failed on the server; it is logged")


async def _problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProblemError)
    return reply(error.kind, error.detail, headers=error.headers)


async def _invalid(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in entry.get("loc", ())], "msg": str(entry.get("msg", ""))}
        for entry in error.errors()
    ]
    return reply(INVALID_REQUEST, "the request is not valid", errors=errors)


_BY_STATUS: Final = {
    status.HTTP_400_BAD_REQUEST: (MALFORMED_BODY, "the request body is not valid JSON"),
    status.HTTP_404_NOT_FOUND: (NOT_FOUND, NOT_FOUND_DETAIL),
    status.HTTP_405_METHOD_NOT_ALLOWED: (METHOD_NOT_ALLOWED, "this path does not take this method"),
}


async def _http(request: Request, error: Exception) -> Response:
    """Starlette's own errors (no route for the path, a method the route does not take)."""
    assert isinstance(error, StarletteHTTPException)
    kind, detail = _BY_STATUS.get(error.status_code, (INTERNAL, "unexpected error"))
    return reply(kind, detail, headers=dict(error.headers or {}))


HANDLERS: Final = {
    ProblemError: _problem,
    RequestValidationError: _invalid,
    StarletteHTTPException: _http,
    StoreError: _fault,
    AdminError: _fault,
}


def responses(*kinds: Kind) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries for these problems (a route lists every one it can give)."""
    by_status: dict[int, list[Kind]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, []).append(kind)
    return {
        code: {
            "model": Problem,
            "description": "; ".join(f"`{kind.name}`: {kind.title}" for kind in listed),
        }
        for code, listed in sorted(by_status.items())
    }
