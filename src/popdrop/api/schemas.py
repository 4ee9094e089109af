"""The API's request and response bodies: what mailboxes, messages, credentials, policies and
routes look like from outside.

A mailbox's password hash, its app passwords' digests and a message's object key stay inside:
they are never part of a reply. A generated password is in the one reply that creates it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from popdrop.faces.lease import LeaseState
from popdrop.mime.structure import Header, Part
from popdrop.model import (
    AppPassword,
    Disposition,
    Mailbox,
    MessageEntry,
    Policy,
    Quarantined,
    Route,
    Summary,
    Verdicts,
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def seconds(value: int) -> datetime:
    return _EPOCH + timedelta(seconds=value)


def milliseconds(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value)


class _In(BaseModel):
    """A request body: fields it does not define are refused, never ignored."""

    model_config = ConfigDict(extra="forbid")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"


class Me(BaseModel):
    """Who the credentials prove: the admin, or a mailbox's owner."""

    role: Literal["admin", "mailbox"]
    address: str | None = None
    app_password: bool = False


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
            created_at=seconds(mailbox.created_at),
        )


class MailboxIn(_In):
    address: str = Field(max_length=320, examples=["alice@example.com"])
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="leave it out to have one generated (and shown once, in the reply)",
    )


class MailboxCreated(MailboxOut):
    password: str | None = Field(default=None, description="the generated password, shown once")


class PasswordIn(_In):
    password: str | None = Field(
        default=None, min_length=1, max_length=1024, description="leave it out to generate one"
    )


class GeneratedPassword(BaseModel):
    password: str = Field(description="shown only now")


class AppPasswordOut(BaseModel):
    name: str
    created_at: datetime
    last_used_at: datetime | None
    last_address: str = Field(description="the client address of its last use, '' when unused")

    @classmethod
    def of(cls, entry: AppPassword) -> AppPasswordOut:
        return cls(
            name=entry.name,
            created_at=seconds(entry.created_at),
            last_used_at=None if entry.last_used_at is None else seconds(entry.last_used_at),
            last_address=entry.last_address,
        )


class AppPasswordIn(_In):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", examples=["phone"])


class AppPasswordCreated(AppPasswordOut):
    password: str = Field(description="shown only now; spaces and dashes are optional")


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
            arrived_at=milliseconds(entry.arrived_at),
            summary=entry.summary,
            tag=entry.tag,
            verdicts=entry.verdicts,
        )


class HeaderOut(BaseModel):
    name: str
    value: str

    @classmethod
    def of(cls, header: Header) -> HeaderOut:
        return cls(name=header.name, value=header.value)


class PartOut(BaseModel):
    id: str = Field(description="IMAP-style: 1, 1.2; TEXT for a message's multipart body")
    content_type: str
    charset: str | None
    size: int = Field(description="octets the part route returns")
    filename: str | None
    disposition: str | None
    content_id: str | None
    container: bool = Field(description="a multipart or an attached message")

    @classmethod
    def of(cls, part: Part) -> PartOut:
        return cls(
            id=part.id,
            content_type=part.content_type,
            charset=part.charset,
            size=part.size,
            filename=part.filename,
            disposition=part.disposition,
            content_id=part.content_id,
            container=part.container,
        )


class MessageDetail(MessageOut):
    headers: list[HeaderOut]
    parts: list[PartOut]


class QuarantinedOut(BaseModel):
    message: MessageOut
    reason: str  # e.g. "spam=FAIL", "over quota: 100 messages", "too large: 42000000 octets"
    quarantined_at: datetime

    @classmethod
    def of(cls, held: Quarantined) -> QuarantinedOut:
        return cls(
            message=MessageOut.of(held.entry),
            reason=held.reason,
            quarantined_at=milliseconds(held.quarantined_at),
        )


class PolicyOut(BaseModel):
    spam: Disposition
    virus: Disposition
    spf: Disposition
    dkim: Disposition
    dmarc: Disposition
    max_messages: int = Field(description="0: unlimited")
    max_octets: int = Field(description="0: unlimited")

    @classmethod
    def of(cls, policy: Policy) -> PolicyOut:
        return cls(
            spam=policy.spam,
            virus=policy.virus,
            spf=policy.spf,
            dkim=policy.dkim,
            dmarc=policy.dmarc,
            max_messages=policy.max_messages,
            max_octets=policy.max_octets,
        )


class PolicyIn(_In):
    """The policy's new values; a field left out keeps its value (as `popdrop mailbox policy`)."""

    spam: Disposition | None = None
    virus: Disposition | None = None
    spf: Disposition | None = None
    dkim: Disposition | None = None
    dmarc: Disposition | None = None
    max_messages: int | None = Field(default=None, ge=0, le=10**12)
    max_octets: int | None = Field(default=None, ge=0, le=10**15)


class AliasOut(BaseModel):
    address: str = Field(description="user@domain, or @domain for the domain's catch-all")
    targets: list[str]

    @classmethod
    def of(cls, route: Route) -> AliasOut:
        return cls(address=route.address, targets=list(route.targets))


class AliasIn(_In):
    address: str = Field(max_length=320, examples=["sales@example.com", "@example.com"])
    targets: list[str] = Field(min_length=1, max_length=100)


class LeaseOut(BaseModel):
    held: bool
    holder: str | None = Field(description="the holding session's id (`api-...`: an API call)")
    since: datetime | None
    expires: datetime | None = Field(description="when the hold ends unless its holder renews it")

    @classmethod
    def of(cls, state: LeaseState | None) -> LeaseOut:
        if state is None:
            return cls(held=False, holder=None, since=None, expires=None)
        return cls(
            held=True,
            holder=state.holder,
            since=milliseconds(state.since_ms),
            expires=milliseconds(state.until_ms),
        )


class _Page(BaseModel):
    has_more: bool = Field(description="true: pass the last item's id as starting_after")


class MailboxPage(_Page):
    data: list[MailboxOut]


class MessagePage(_Page):
    data: list[MessageOut]


class QuarantinePage(_Page):
    data: list[QuarantinedOut]


class AliasPage(_Page):
    data: list[AliasOut]


class AppPasswordPage(_Page):
    data: list[AppPasswordOut]
