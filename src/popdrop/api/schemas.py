"""The API's response bodies: what a mailbox and a message look like from outside.

A mailbox's password hash and a message's object key stay inside: they are never part of a reply.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel

from popdrop.model import Mailbox, MessageEntry, Quarantined, Summary, Verdicts

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Error(BaseModel):
    detail: str


class MailboxOut(BaseModel):
    address: str
    message_count: int
    octets: int
    created_at: datetime

    @classmethod
    def of(cls, mailbox: Mailbox) -> MailboxOut:
        return cls(
            address=mailbox.address,
            message_count=mailbox.message_count,
            octets=mailbox.octets,
            created_at=_EPOCH + timedelta(seconds=mailbox.created_at),
        )


class MessageOut(BaseModel):
    uid: str
    size: int  # octets, as POP3 LIST reports them and /raw returns them
    header_size: int
    arrived_at: datetime
    summary: Summary  # the headers recorded at ingest; empty strings for absent ones
    tag: str = ""  # the plus-address tag it was sent to (user+tag@domain), "" when none
    verdicts: Verdicts = Verdicts()  # SES's verdicts; null for those not reported

    @classmethod
    def of(cls, entry: MessageEntry) -> MessageOut:
        return cls(
            uid=entry.uid,
            size=entry.size,
            header_size=entry.header_size,
            arrived_at=_EPOCH + timedelta(milliseconds=entry.arrived_at),
            summary=entry.summary,
            tag=entry.tag,
            verdicts=entry.verdicts,
        )


class QuarantinedOut(BaseModel):
    message: MessageOut
    reason: str  # e.g. "spam=FAIL", "over quota: 100 messages", "too large: 42000000 octets"
    quarantined_at: datetime

    @classmethod
    def of(cls, held: Quarantined) -> QuarantinedOut:
        return cls(
            message=MessageOut.of(held.entry),
            reason=held.reason,
            quarantined_at=_EPOCH + timedelta(milliseconds=held.quarantined_at),
        )
