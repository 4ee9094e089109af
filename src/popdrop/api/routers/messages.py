"""A mailbox's messages: the list (newest first, filtered, in pages), one message with its
headers and MIME parts, and deleting one exactly as POP3 DELE and QUIT would."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from popdrop.api import problems
from popdrop.api.deps import OwnMailbox, SettingsDep, StoreDep
from popdrop.api.filters import VERDICT_PATTERN, MessageFilter, first
from popdrop.api.params import MessageUid, PageLimit, UidCursor
from popdrop.api.parsed import parsed_message
from popdrop.api.schemas import HeaderOut, MessageDetail, MessageOut, MessagePage, PartOut
from popdrop.faces.faults import CleanupPending
from popdrop.logfmt import log_event
from popdrop.mime import structure

logger = logging.getLogger("popdrop.api")

router = APIRouter(prefix="/mailboxes/{address}/messages", tags=["messages"])

_ONE = problems.responses(problems.NOT_FOUND, problems.FORBIDDEN)
_Text = Annotated[str | None, Query(min_length=1, max_length=256)]


@router.get("", responses=problems.responses(problems.NOT_FOUND, problems.INVALID_CURSOR))
def list_messages(
    *,
    mailbox: OwnMailbox,
    store: StoreDep,
    limit: PageLimit = 50,
    starting_after: UidCursor = None,
    sender: Annotated[
        str | None,
        Query(alias="from", min_length=1, max_length=256, description="in From (substring)"),
    ] = None,
    to: Annotated[str | None, Query(min_length=1, max_length=256, description="in To")] = None,
    subject: _Text = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=256, description="in any summary header"),
    ] = None,
    since: Annotated[datetime | None, Query(description="arrived at or after")] = None,
    until: Annotated[datetime | None, Query(description="arrived at or before")] = None,
    verdict: Annotated[
        str | None,
        Query(pattern=VERDICT_PATTERN, description="FAIL (any verdict), or a kind: dmarc:FAIL"),
    ] = None,
    tag: Annotated[
        str | None, Query(min_length=1, max_length=64, description="the plus-address tag")
    ] = None,
) -> MessagePage:
    """The mailbox's messages newest first. Text filters match substrings of the summary headers
    recorded at ingest, ignoring case; all given filters must match."""
    entries = store.messages_newest_first(
        mailbox, after_uid=starting_after, since_ms=_ms(since), until_ms=_ms(until)
    )
    if entries is None:
        raise problems.ProblemError(
            problems.INVALID_CURSOR, "starting_after is not a message of this mailbox"
        )
    wanted = MessageFilter(sender, to, subject, q, verdict, tag)
    data, has_more = first(wanted.apply(entries), limit)
    return MessagePage(data=[MessageOut.of(entry) for entry in data], has_more=has_more)


@router.get("/{uid}", responses=problems.responses(problems.NOT_FOUND, problems.MESSAGE_TOO_LARGE))
def get_message(
    mailbox: OwnMailbox, uid: MessageUid, store: StoreDep, settings: SettingsDep
) -> MessageDetail:
    """The message's summary, every header (decoded) and every MIME part in tree order."""
    entry, message = parsed_message(store, settings, mailbox, uid)
    return MessageDetail(
        **MessageOut.of(entry).model_dump(),
        headers=[HeaderOut.of(header) for header in structure.headers(message)],
        parts=[PartOut.of(part) for part in structure.parts(message)],
    )


@router.delete(
    "/{uid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ONE, **problems.responses(problems.MAILDROP_IN_USE)},
)
def delete_message(
    mailbox: OwnMailbox, uid: MessageUid, store: StoreDep, settings: SettingsDep
) -> Response:
    """Delete the message as a POP3 session's DELE and QUIT would: under the maildrop's lease,
    through the same crash-safe commit (RFC 1939 §6). While a POP3 session holds the maildrop
    the answer is 409 and nothing is deleted. The lease is kept by a heartbeat of this request's
    own, ended with it, so a request that dies mid-way frees the maildrop within the lease
    period."""
    session = f"api-{secrets.token_hex(8)}"
    heartbeat = store.start_heartbeat(session, seconds=settings.lease_seconds)
    try:
        lease = store.acquire_lease(mailbox, session, heartbeat)
        if lease is None:
            raise problems.ProblemError(
                problems.MAILDROP_IN_USE, "a POP3 session holds the maildrop; try again later"
            )
        try:
            entry = store.get_message(mailbox, uid)
            if entry is None:
                raise problems.not_found()
            try:
                store.commit_deletions(lease, [entry])
            except CleanupPending as pending:  # the message is gone; `popdrop gc` finishes it
                log_event(logger, "api.cleanup_pending", logging.WARNING, error=str(pending))
        finally:
            store.release_lease(lease)
    finally:
        store.end_heartbeat(heartbeat)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)
