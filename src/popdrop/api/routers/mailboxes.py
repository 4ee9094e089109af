"""Mailboxes and their messages, read-only.

Routes are plain `def`: the store is synchronous boto3, so FastAPI runs each in its thread pool
and no storage call blocks the event loop.
"""

from __future__ import annotations

from itertools import chain

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from popdrop.api.deps import KnownMailbox, MessageMailbox, MessageUid, SettingsDep, StoreDep
from popdrop.api.schemas import Error, MailboxOut, MessageOut
from popdrop.faces.api import ApiStore
from popdrop.model import Address, MessageEntry

router = APIRouter(
    prefix="/mailboxes",
    tags=["mailboxes"],
    responses={status.HTTP_404_NOT_FOUND: {"model": Error}},
)


@router.get("")
def list_mailboxes(store: StoreDep) -> list[MailboxOut]:
    return [MailboxOut.of(mailbox) for mailbox in store.list_mailboxes()]


@router.get("/{address}/messages")
def list_messages(mailbox: KnownMailbox, store: StoreDep) -> list[MessageOut]:
    """The mailbox's messages in arrival order: the order POP3 numbers them in."""
    return [MessageOut.of(entry) for entry in store.list_messages(mailbox)]


@router.get("/{address}/messages/{uid}")
def get_message(mailbox: MessageMailbox, uid: MessageUid, store: StoreDep) -> MessageOut:
    return MessageOut.of(_entry(store, mailbox, uid))


@router.get(
    "/{address}/messages/{uid}/raw",
    response_class=StreamingResponse,
    responses={
        status.HTTP_200_OK: {"content": {"message/rfc822": {}}},
        status.HTTP_307_TEMPORARY_REDIRECT: {"description": "a short-lived presigned S3 URL"},
    },
)
def get_raw_message(
    mailbox: MessageMailbox, uid: MessageUid, store: StoreDep, settings: SettingsDep
) -> Response:
    """The message exactly as stored, which is exactly what POP3 RETR sends before dot-stuffing.

    A message over `POPDROP_API_INLINE_RAW_BYTES` is a 307 to a presigned S3 URL instead: on
    Lambda the body would be buffered and base64-encoded past the 6 MB response limit."""
    entry = _entry(store, mailbox, uid)
    if entry.size > settings.api_inline_raw_bytes:
        url = store.download_url(entry.object_key, seconds=settings.api_download_url_seconds)
        return RedirectResponse(url, status.HTTP_307_TEMPORARY_REDIRECT)
    chunks = store.iter_object(entry.object_key)
    # Read the first chunk before the status line goes out, so a storage fault is still a 503.
    first = next(chunks, b"")
    return StreamingResponse(
        chain([first], chunks),
        media_type="message/rfc822",
        headers={"Content-Length": str(entry.size)},
    )


def _entry(store: ApiStore, address: Address, uid: str) -> MessageEntry:
    entry = store.get_message(address, uid)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    return entry
