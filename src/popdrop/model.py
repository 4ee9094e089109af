"""The mailbox and message model every entry point shares: frozen, validated dataclasses.

Nothing here does IO. The store turns DynamoDB items into these objects and back; the POP3 core
and the API read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
