"""The REST API application: routers, the admin guard on /v1, and the replies to store errors.

`create_app()` builds a fresh app, so each test and each entry point (uvicorn in `popdrop api` and
`popdrop dev`, Mangum in functions/api/app.py) gets its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Final

from fastapi import Depends, FastAPI, Request, Response, status
from fastapi.responses import JSONResponse

from popdrop.api.deps import require_admin
from popdrop.api.routers import folders, health, mailboxes, quarantine
from popdrop.api.schemas import Error
from popdrop.faces.faults import ObjectNotFound, StorageUnavailable, StoreError
from popdrop.logfmt import log_event

logger = logging.getLogger("popdrop.api")

# Each store error a route may meet, and the one reply it gets. The cause goes to the log, never
# into the reply.
STORE_ERROR_REPLIES: Final[dict[type[StoreError], tuple[int, str]]] = {
    # The entry was read, then its object was gone: a POP3 QUIT deleted the message in between.
    ObjectNotFound: (status.HTTP_404_NOT_FOUND, "message not found"),
    # S3 or DynamoDB failing right now, not the request: the client may retry.
    StorageUnavailable: (
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "storage is unavailable, try again later",
    ),
}


def _replying(status_code: int, detail: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def reply(request: Request, exc: Exception) -> Response:
        log_event(
            logger, "api.store_error", logging.WARNING, path=request.url.path, error=repr(exc)
        )
        return JSONResponse(Error(detail=detail).model_dump(), status_code=status_code)

    return reply


def create_app() -> FastAPI:
    app = FastAPI(title="popdrop", version=version("popdrop"))
    app.include_router(health.router)
    # Every /v1 route is for the operator, for now: the guard sits here so no route can miss it.
    app.include_router(mailboxes.router, prefix="/v1", dependencies=[Depends(require_admin)])
    app.include_router(quarantine.router, prefix="/v1", dependencies=[Depends(require_admin)])
    app.include_router(folders.router, prefix="/v1", dependencies=[Depends(require_admin)])
    for error, (status_code, detail) in STORE_ERROR_REPLIES.items():
        app.add_exception_handler(error, _replying(status_code, detail))
    return app
