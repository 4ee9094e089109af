"""The ASGI layers around every request: routing on the path as sent, and the security headers.

Both are plain ASGI (no `BaseHTTPMiddleware`), so a streamed body passes through untouched, chunk
by chunk, with the server's back-pressure intact.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from popdrop.api import problems

# What a JSON (or any non-page) reply may do in a browser: nothing.
API_POLICY: Final = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)
# The console: its own scripts and styles only; sanitised message HTML in a srcdoc iframe inherits
# this policy, so its images can only be the data: URLs the console makes of `cid:` parts, and
# its style attributes are its only styles.
CONSOLE_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc (served from the package): their styles are inline, ReDoc runs a worker.
DOCS_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGES: Final = (("/docs", DOCS_POLICY), ("/redoc", DOCS_POLICY), ("/console/", CONSOLE_POLICY))

_ALWAYS: Final = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def policy_for(path: str) -> str:
    if path == "/":
        return CONSOLE_POLICY
    return next((policy for prefix, policy in _PAGES if path.startswith(prefix)), API_POLICY)


class SecurityHeaders:
    """Every response gets the headers of `_ALWAYS`, a Content-Security-Policy (a route may set its
    own), `Cache-Control: no-store` unless the route set one (mail is private), and HSTS over
    HTTPS. An unexpected error before the response started is answered here too, as the
    `internal-error` problem with these headers; one after it started closes the connection
    early (the body is short of its Content-Length)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope["path"])
        secure = scope.get("scheme") == "https"

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers[name] = value
                headers.setdefault("content-security-policy", policy)
                headers.setdefault("cache-control", "no-store")
                if secure:
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            if started:
                raise
            await problems.internal(scope["path"], error)(scope, receive, send_with_headers)


class RoutePathAsSent:
    """Route on the path exactly as the client sent it (still percent-encoded), so `%2F` in an
    address or a unique id stays inside its path segment instead of splitting it; the path
    parameter types decode each segment once (`popdrop.api.params`).

    Uvicorn gives the path as sent in `raw_path`; on Lambda, Mangum passes the HTTP API event,
    whose `rawPath` is the path as sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            if raw is None:
                raw = (scope.get("aws.event") or {}).get("rawPath", "").encode()
            if raw:
                scope = {**scope, "path": raw.decode("utf-8", "replace")}
        await self.app(scope, receive, send)
