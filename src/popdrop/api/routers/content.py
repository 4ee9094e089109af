"""What a message holds: its raw octets (GET and HEAD, with ETag, Range and If-None-Match), one
MIME part decoded, and its HTML body sanitised.

Under uvicorn every body streams, whatever its size. On Lambda (`create_app(buffered=True)`)
a body over the limit is a 307 to a presigned S3 URL instead: Lambda buffers a reply and
base64-encodes it, and refuses one over 6 MB. A large raw message is its S3 object; a large part
is first stored decoded under the API's own prefix.
"""

from __future__ import annotations

import mimetypes
from itertools import chain
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from popdrop.api import downloads, problems
from popdrop.api.deps import OwnMailbox, ResponseLimit, SettingsDep, StoreDep
from popdrop.api.params import MessageUid, PartId
from popdrop.api.parsed import entry_of, parsed_message
from popdrop.mime import html, structure
from popdrop.model import Address

router = APIRouter(prefix="/mailboxes/{address}/messages/{uid}", tags=["messages"])

# Message HTML may show its own images (the data: URLs the console makes of cid: parts, or the
# part URLs themselves) and inline styles; nothing else loads or runs, even opened on its own.
HTML_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
_REVALIDATE = "private, no-cache"  # a client may keep a copy, checking it with its ETag
_RAW_CONTENT = {
    "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
}
_RAW_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_200_OK: {"content": _RAW_CONTENT, "description": "the stored message"},
    status.HTTP_206_PARTIAL_CONTENT: {"content": _RAW_CONTENT, "description": "a byte range"},
    status.HTTP_304_NOT_MODIFIED: {"description": "If-None-Match named this ETag"},
    status.HTTP_307_TEMPORARY_REDIRECT: {"description": "on Lambda, over the response limit"},
    **problems.responses(problems.NOT_FOUND, problems.FORBIDDEN, problems.RANGE_NOT_SATISFIABLE),
}
_Condition = Annotated[str | None, Header(include_in_schema=False)]


@router.get("/raw", response_class=StreamingResponse, responses=_RAW_RESPONSES)
@router.head("/raw", response_class=Response, responses=_RAW_RESPONSES)
def raw(
    *,
    request: Request,
    mailbox: OwnMailbox,
    uid: MessageUid,
    store: StoreDep,
    settings: SettingsDep,
    limit: ResponseLimit,
    range_: Annotated[str | None, Header(alias="range")] = None,
    if_range: _Condition = None,
    if_none_match: _Condition = None,
) -> Response:
    """The message exactly as stored, which is exactly what POP3 RETR sends before dot-stuffing
    (a single byte range with `Range`, RFC 9110 §14). HEAD: the same headers without the body
    (no S3 request is made)."""
    return _raw(
        mailbox=mailbox,
        uid=uid,
        store=store,
        settings=settings,
        limit=limit,
        range_header=range_,
        if_range=if_range,
        if_none_match=if_none_match,
        head=request.method == "HEAD",
    )


def _raw(
    *,
    mailbox: Address,
    uid: str,
    store: StoreDep,
    settings: SettingsDep,
    limit: int | None,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
    head: bool,
) -> Response:
    entry = entry_of(store, mailbox, uid)
    tag = downloads.entity_tag(entry.object_key)
    headers = {
        "ETag": tag,
        "Accept-Ranges": "bytes",
        "Cache-Control": _REVALIDATE,
        "Content-Disposition": downloads.attachment(f"{uid}.eml"),
    }
    if downloads.none_match(if_none_match, tag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    try:
        wanted = downloads.byte_range(range_header, if_range, tag, entry.size)
    except downloads.Unsatisfiable:
        raise problems.ProblemError(
            problems.RANGE_NOT_SATISFIABLE,
            f"the message has {entry.size} octets",
            headers={"Content-Range": f"bytes */{entry.size}"},
        ) from None
    start, end = (0, entry.size) if wanted is None else (wanted.start, wanted.end)
    if limit is not None and end - start > limit:
        url = store.download_url(
            entry.object_key,
            seconds=settings.api_download_url_seconds,
            disposition=headers["Content-Disposition"],
        )
        return RedirectResponse(url, status.HTTP_307_TEMPORARY_REDIRECT)
    headers["Content-Length"] = str(end - start)
    code = status.HTTP_200_OK
    if wanted is not None:
        headers["Content-Range"] = wanted.content_range(entry.size)
        code = status.HTTP_206_PARTIAL_CONTENT
    if head:
        return Response(status_code=code, headers=headers, media_type="message/rfc822")
    chunks = store.iter_object(entry.object_key, start=start, end=end)
    # Read the first chunk before the status line goes out, so a storage fault is still a 503.
    first = next(chunks, b"")
    return StreamingResponse(
        chain([first], chunks), status_code=code, media_type="message/rfc822", headers=headers
    )


@router.get(
    "/parts/{part}",
    response_class=Response,
    responses={
        status.HTTP_200_OK: {
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            "description": "the part's content, decoded, as its own Content-Type",
        },
        status.HTTP_304_NOT_MODIFIED: {"description": "If-None-Match named this ETag"},
        status.HTTP_307_TEMPORARY_REDIRECT: {"description": "on Lambda, over the response limit"},
        **problems.responses(problems.NOT_FOUND, problems.FORBIDDEN, problems.MESSAGE_TOO_LARGE),
    },
)
def get_part(
    *,
    mailbox: OwnMailbox,
    uid: MessageUid,
    part: PartId,
    store: StoreDep,
    settings: SettingsDep,
    limit: ResponseLimit,
    if_none_match: _Condition = None,
) -> Response:
    """One MIME part, its transfer encoding undone, always as an attachment (never shown in the
    API's own origin)."""
    entry, message = parsed_message(store, settings, mailbox, uid)
    found = structure.find(message, part)
    if found is None:
        raise problems.not_found()
    described = structure.describe(part, found)
    content_type = described.content_type
    if described.charset is not None:
        content_type += f"; charset={described.charset}"
    filename = described.filename or f"part-{part}{_extension(described.content_type)}"
    tag = downloads.entity_tag(entry.object_key, part)
    headers = {
        "ETag": tag,
        "Cache-Control": _REVALIDATE,
        "Content-Disposition": downloads.attachment(filename),
    }
    if downloads.none_match(if_none_match, tag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    data = structure.content(found)
    if limit is not None and len(data) > limit:
        key = store.publish_part(entry.object_key, part, data, content_type)
        url = store.download_url(
            key,
            seconds=settings.api_download_url_seconds,
            content_type=content_type,
            disposition=headers["Content-Disposition"],
        )
        return RedirectResponse(url, status.HTTP_307_TEMPORARY_REDIRECT)
    return Response(data, media_type=content_type, headers=headers)


@router.get(
    "/html",
    response_class=HTMLResponse,
    responses=problems.responses(
        problems.NOT_FOUND, problems.NO_HTML, problems.FORBIDDEN, problems.MESSAGE_TOO_LARGE
    ),
)
def get_html(
    mailbox: OwnMailbox, uid: MessageUid, store: StoreDep, settings: SettingsDep
) -> HTMLResponse:
    """The HTML body, sanitised on the server: no script, handler, form or style sheet; remote
    content dropped; `cid:` images pointing at their part's URL. Served with a policy that lets
    nothing run or load from elsewhere even if opened on its own."""
    _, message = parsed_message(store, settings, mailbox, uid)
    body = html.html_body(message)
    if body is None:
        raise problems.ProblemError(problems.NO_HTML, "the message has no HTML body")
    base = f"/v1/mailboxes/{quote(mailbox, safe='@')}/messages/{quote(uid, safe='')}/parts/"
    part_urls = {
        part.content_id: base + part.id
        for part in structure.parts(message)
        if part.content_id is not None
    }
    document = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        + html.sanitise(body, part_urls)
        + "</body></html>"
    )
    return HTMLResponse(document, headers={"Content-Security-Policy": HTML_POLICY})


def _extension(content_type: str) -> str:
    return mimetypes.guess_extension(content_type) or ".bin"
