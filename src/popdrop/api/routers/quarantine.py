"""A mailbox's quarantine: messages kept out of the POP3 maildrop by its policy or quota, with the
reason; an operator releases them into the maildrop or discards them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from popdrop.api.deps import KnownMailbox, MessageMailbox, MessageUid, StoreDep
from popdrop.api.schemas import Error, MessageOut, QuarantinedOut

router = APIRouter(
    prefix="/mailboxes/{address}/quarantine",
    tags=["quarantine"],
    responses={status.HTTP_404_NOT_FOUND: {"model": Error}},
)


@router.get("")
def list_quarantined(mailbox: KnownMailbox, store: StoreDep) -> list[QuarantinedOut]:
    return [QuarantinedOut.of(held) for held in store.list_quarantined(mailbox)]


@router.post("/{uid}/release")
def release(mailbox: MessageMailbox, uid: MessageUid, store: StoreDep) -> MessageOut:
    """Move the message into the maildrop (the next POP3 login lists it), bypassing the policy and
    the quota: an operator decided."""
    released = store.release_quarantined(mailbox, uid)
    if released is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    return MessageOut.of(released)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
def discard(mailbox: MessageMailbox, uid: MessageUid, store: StoreDep) -> Response:
    if not store.discard_quarantined(mailbox, uid):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
