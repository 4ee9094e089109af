"""The mailbox and message model every entry point shares: frozen, validated dataclasses.

Nothing here does IO. The store turns DynamoDB items into these objects and back; the POP3 core
and the API read them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Final

# RFC 1939 §7 (UIDL): a unique id is 1 to 70 characters in the range 0x21 to 0x7E.
_UID_RE = re.compile(r"[\x21-\x7e]{1,70}")
# A deliberately plain address check: local@domain, no spaces or controls, bounded lengths
# (RFC 5321 §4.5.3.1).
_ADDRESS_RE = re.compile(
    r"[^\s@\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?"
)


class InvalidAddress(ValueError):
    """The text is not a mailbox address popdrop can serve."""


def normalize_address(text: str) -> str:
    """The canonical (lower-case, trimmed) form of a mailbox address, or raise InvalidAddress.

    Addresses are case-insensitive throughout popdrop, so one mailbox has one spelling in storage.
    """
    address = text.strip().lower()
    if not _ADDRESS_RE.fullmatch(address) or ".." in address.split("@", 1)[1]:
        raise InvalidAddress(f"not a mailbox address: {text!r}")
    return address


def is_valid_uid(uid: str) -> bool:
    return _UID_RE.fullmatch(uid) is not None


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox profile: who may log in and what the mailbox holds."""

    address: str
    password_hash: str
    created_at: int  # epoch seconds
    message_count: int = 0
    octets: int = 0

    def __post_init__(self) -> None:
        if normalize_address(self.address) != self.address:
            raise InvalidAddress(f"address is not canonical: {self.address!r}")


@dataclass(frozen=True, slots=True)
class Summary:
    """Summary headers recorded at ingest for the API; never used by POP3."""

    sender: str = ""
    to: str = ""
    subject: str = ""
    date: str = ""
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class Verdicts:
    """SES's checks of a message: PASS, FAIL, GRAY, PROCESSING_FAILED or DISABLED; None when the
    event does not report it."""

    spam: str | None = None
    virus: str | None = None
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None


VERDICT_KINDS: Final = ("spam", "virus", "spf", "dkim", "dmarc")


@dataclass(frozen=True, slots=True)
class MessageEntry:
    """One message in one mailbox.

    `size` is the octet count of the stored object, which is exactly what RETR sends before
    dot-stuffing (CRLF line ends), so LIST and RETR agree (RFC 1939 §5 LIST). `header_size` counts
    the header block including the blank line that ends it, so TOP can fetch a byte range.
    """

    mailbox: str
    uid: str
    object_key: str
    size: int
    header_size: int
    arrived_at: int  # epoch milliseconds; with uid, orders the maildrop
    summary: Summary = field(default_factory=Summary)
    tag: str = ""  # the plus-address tag the message was sent to (user+tag@domain), if any
    verdicts: Verdicts = field(default_factory=Verdicts)

    def __post_init__(self) -> None:
        if not is_valid_uid(self.uid):
            raise ValueError(f"invalid unique id: {self.uid!r}")
        if self.size < 0 or not 0 <= self.header_size <= self.size:
            raise ValueError(f"invalid sizes: size={self.size} header_size={self.header_size}")


@dataclass(frozen=True, slots=True)
class Maildrop:
    """The maildrop as a session sees it, fixed at login (RFC 1939 §8 exclusive access)."""

    mailbox: str
    messages: tuple[MessageEntry, ...]

    @property
    def octets(self) -> int:
        return sum(m.size for m in self.messages)


class Action(enum.StrEnum):
    """What a mailbox's policy does with a message, from the mildest to the most severe."""

    DELIVER = "deliver"
    QUARANTINE = "quarantine"  # kept out of the POP3 maildrop, visible and releasable
    DROP = "drop"  # not filed anywhere; logged with the reason

    @property
    def severity(self) -> int:
        return list(Action).index(self)


@dataclass(frozen=True, slots=True)
class Policy:
    """A mailbox's delivery policy: the action taken when a verdict is FAIL, and its quotas.

    Only FAIL triggers an action: GRAY, PROCESSING_FAILED, DISABLED and an absent verdict deliver
    (SES's own guidance: a failed scan is no evidence against the message). Quotas of 0 are
    unlimited; a message over quota is quarantined with the reason, never lost.
    """

    spam: Action = Action.QUARANTINE
    virus: Action = Action.DROP
    spf: Action = Action.DELIVER
    dkim: Action = Action.DELIVER
    dmarc: Action = Action.DELIVER
    max_messages: int = 0
    max_octets: int = 0

    def __post_init__(self) -> None:
        if self.max_messages < 0 or self.max_octets < 0:
            raise ValueError("quotas must not be negative")

    def verdict_action(self, verdicts: Verdicts) -> tuple[Action, str]:
        """The most severe action the failed verdicts call for, and why (e.g. "spam=FAIL")."""
        action, reason = Action.DELIVER, ""
        for kind in VERDICT_KINDS:
            chosen: Action = getattr(self, kind)
            if getattr(verdicts, kind) == "FAIL" and chosen.severity > action.severity:
                action, reason = chosen, f"{kind}=FAIL"
        return action, reason


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A message kept out of a mailbox's maildrop, with the reason, until released or removed."""

    entry: MessageEntry
    reason: str
    quarantined_at: int  # epoch milliseconds


@dataclass(frozen=True, slots=True)
class Route:
    """Where mail for an address goes: an alias (`address`) or a domain's catch-all (`@domain`)."""

    address: str
    targets: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a route needs at least one target mailbox")
        for target in self.targets:
            if normalize_address(target) != target:
                raise InvalidAddress(f"target is not canonical: {target!r}")
        if self.address.startswith("@"):
            normalize_address("catch-all" + self.address)
        elif normalize_address(self.address) != self.address:
            raise InvalidAddress(f"address is not canonical: {self.address!r}")

    @property
    def is_catch_all(self) -> bool:
        return self.address.startswith("@")


def split_plus(address: str) -> tuple[str, str]:
    """`user+tag@domain` -> (`user@domain`, `tag`); an address without a tag -> (address, "")."""
    local, _, domain = address.rpartition("@")
    base, plus, tag = local.partition("+")
    if not plus or not base:
        return address, ""
    return f"{base}@{domain}", tag
