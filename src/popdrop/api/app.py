"""The REST API application: the routers, the authentication every /v1 route requires, problem
documents for every error, the security headers, the OpenAPI document and its pages, and the
web console.

`create_app()` builds a fresh app, so each test and each entry point (uvicorn in `popdrop api` and
`popdrop dev`, Mangum in functions/api/app.py) gets its own. `buffered` is Lambda's case: the
platform buffers each reply and refuses one over 6 MB, so a body larger than
POPDROP_API_INLINE_RAW_BYTES is a redirect to a presigned S3 URL instead (uvicorn streams any size).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import fastapi_offline
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from popdrop.api import problems
from popdrop.api.deps import current_caller, reject_unknown_query
from popdrop.api.middleware import RoutePathAsSent, SecurityHeaders
from popdrop.api.routers import (
    content,
    delivery,
    folders,
    health,
    leases,
    mailboxes,
    me,
    messages,
    quarantine,
)

CONSOLE: Final = Path(__file__).parent / "console"
# Swagger UI and ReDoc, as the fastapi-offline package ships them (no CDN).
DOCS_ASSETS: Final = Path(fastapi_offline.__file__).parent / "static"

DESCRIPTION: Final = """\
Inspect and administer popdrop's mailboxes. Authenticate with the admin token (`Authorization:
Bearer ...`: every route) or a mailbox's address and password or app password (HTTP Basic: that
mailbox only). Errors are RFC 9457 problem documents (`application/problem+json`); lists are
`{"data": [...], "has_more": ...}`, continued with `starting_after`. See docs/api.md.
"""

# Every /v1 route may answer these besides its own.
_COMMON: Final = problems.responses(
    problems.UNAUTHORIZED,
    problems.INSECURE_TRANSPORT,
    problems.UNKNOWN_PARAMETER,
    problems.MALFORMED_BODY,
    problems.INVALID_REQUEST,
    problems.STORAGE_UNAVAILABLE,
)


def create_app(*, buffered: bool = False) -> FastAPI:
    app = FastAPI(
        title="popdrop",
        version=version("popdrop"),
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.buffered = buffered
    checked = [Depends(reject_unknown_query)]
    app.include_router(
        health.router,
        dependencies=checked,
        responses=problems.responses(problems.UNKNOWN_PARAMETER),
    )
    for router in (
        me.router,
        mailboxes.router,
        messages.router,
        content.router,
        quarantine.router,
        leases.router,
        folders.router,
        delivery.policies,
        delivery.aliases,
    ):
        app.include_router(
            router,
            prefix="/v1",
            # The caller is known before anything else about the request is looked at.
            dependencies=[Depends(current_caller), *checked],
            responses=_COMMON,
        )
    for error, handler in problems.HANDLERS.items():
        app.add_exception_handler(error, handler)
    _pages(app)
    app.add_middleware(RoutePathAsSent)
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _pages(app: FastAPI) -> None:
    """The console at / and the OpenAPI pages, all from files in the package."""
    app.mount("/console", StaticFiles(directory=CONSOLE), name="console")
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    for path, page in (("/", "index.html"), ("/docs", "docs.html"), ("/redoc", "redoc.html")):

        def serve(page: str = page) -> FileResponse:
            return FileResponse(CONSOLE / page, media_type="text/html")

        app.add_api_route(path, serve, methods=["GET"], include_in_schema=False)


_PROBLEM: Final = {"$ref": "#/components/schemas/Problem"}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error response as `application/problem+json`."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for operations in document["paths"].values():
            for operation in operations.values():
                for code, answer in operation.get("responses", {}).items():
                    # Whatever the route's own media type (HTML, a message), errors are problems.
                    if code.isdigit() and int(code) >= 400:
                        answer["content"] = {problems.MEDIA_TYPE: {"schema": _PROBLEM}}
        app.openapi_schema = document
    return app.openapi_schema
