"""A mailbox's quarantine: messages kept out of the POP3 maildrop by its policy or quota, with the
reason; the admin or the mailbox's owner releases them into the maildrop or discards them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from popdrop.admin import delivery
from popdrop.api import problems
from popdrop.api.deps import OwnMailbox, StoreDep
from popdrop.api.filters import first
from popdrop.api.params import MessageUid, PageLimit, UidCursor
from popdrop.api.schemas import MessageOut, QuarantinedOut, QuarantinePage

router = APIRouter(
    prefix="/mailboxes/{address}/quarantine",
    tags=["quarantine"],
    responses=problems.responses(problems.NOT_FOUND, problems.FORBIDDEN),
)


@router.get("", responses=problems.responses(problems.INVALID_CURSOR))
def list_quarantined(
    mailbox: OwnMailbox,
    store: StoreDep,
    limit: PageLimit = 50,
    starting_after: UidCursor = None,
) -> QuarantinePage:
    """Quarantined messages newest first, each with the reason."""
    held = store.quarantined_newest_first(mailbox, after_uid=starting_after)
    if held is None:
        raise problems.ProblemError(
            problems.INVALID_CURSOR, "starting_after is not a quarantined message of this mailbox"
        )
    data, has_more = first(held, limit)
    return QuarantinePage(data=[QuarantinedOut.of(item) for item in data], has_more=has_more)


@router.post("/{uid}/release")
def release(mailbox: OwnMailbox, uid: MessageUid, store: StoreDep) -> MessageOut:
    """Move the message into the maildrop (the next POP3 login lists it), past the policy and
    the quota: someone who may read the mailbox decided."""
    return MessageOut.of(delivery.release(store, mailbox, uid))


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
def discard(mailbox: OwnMailbox, uid: MessageUid, store: StoreDep) -> Response:
    delivery.discard(store, mailbox, uid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
