"""A mailbox's quarantine: messages kept out of the POP3 maildrop by its policy or quota, with the
reason; an operator releases them into the maildrop or discards them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from popdrop.api.deps import MailboxAddress, MessageUid, StoreDep
from popdrop.api.schemas import Error, MessageOut, QuarantinedOut
from popdrop.model import Quarantined
from popdrop.store import Store

router = APIRouter(
    prefix="/mailboxes/{address}/quarantine",
    tags=["quarantine"],
    responses={status.HTTP_404_NOT_FOUND: {"model": Error}},
)


@router.get("")
def list_quarantined(address: MailboxAddress, store: StoreDep) -> list[QuarantinedOut]:
    _mailbox(store, address)
    return [QuarantinedOut.of(held) for held in store.quarantine.listing(address)]


@router.post("/{uid}/release")
def release(address: MailboxAddress, uid: MessageUid, store: StoreDep) -> MessageOut:
    """Move the message into the maildrop (the next POP3 login lists it), bypassing the policy and
    the quota: an operator decided."""
    held = _held(store, address, uid)
    if not store.quarantine.release(held):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    return MessageOut.of(held.entry)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
def discard(address: MailboxAddress, uid: MessageUid, store: StoreDep) -> Response:
    _mailbox(store, address)
    if not store.discard_quarantined(address, uid):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _mailbox(store: Store, address: str) -> None:
    if store.get_mailbox(address) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="mailbox not found")


def _held(store: Store, address: str, uid: str) -> Quarantined:
    _mailbox(store, address)
    held = store.quarantine.get(address, uid)
    if held is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found")
    return held
