"""The mailbox and message model every entry point shares: frozen, validated dataclasses.

Nothing here does IO. The store turns DynamoDB items into these objects and back; the POP3 core
and the API read them.

A mailbox address is an `Address`: text that `normalize_address` has put in canonical form. It is
made once, where an address enters popdrop (CLI arguments, API path parameters, POP3 USER/APOP/AUTH
names, ingest's recipients), and every layer below takes it as it is: the type says it is canonical
(mypy checks that nothing else passes for one).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Final, NewType

from popdrop import precis

# RFC 1939 §7 (UIDL): a unique id is 1 to 70 characters in the range 0x21 to 0x7E.
_UID_RE = re.compile(r"[\x21-\x7e]{1,70}")
# An app password's name says which device it is for: short, and safe in a log line.
_APP_PASSWORD_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")
# A deliberately plain address check: local@domain, no spaces or controls, an ASCII (or
# punycode) domain; lengths are checked in octets below (RFC 5321 §4.5.3.1).
_ADDRESS_RE = re.compile(r"[^\s@\x00-\x1f\x7f]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
# RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
_MAX_LOCAL_OCTETS: Final = 64
# Every login method must carry every address and password: RFC 2449 §4 bounds a command line at
# 255 octets with its CRLF. APOP's line is the tightest for a name ("APOP " name " " and a 32-digit
# digest, then CRLF: 215 octets left), PASS's for a password ("PASS " password CRLF: 248).
MAX_ADDRESS_OCTETS: Final = 255 - len("APOP  \r\n") - 32
MAX_PASSWORD_OCTETS: Final = 255 - len("PASS \r\n")


Address = NewType("Address", str)

# Where a message lives in its mailbox (POP4 folders, `popdrop.folders`): the maildrop POP3 serves
# (INBOX, the placement every entry had before folders existed), the quarantine, or a folder the
# user created, by its id.
FolderId = NewType("FolderId", str)
INBOX_ID: Final = FolderId("")
QUARANTINE_ID: Final = FolderId("~quarantine")


class InvalidAddress(ValueError):
    """The text is not a mailbox address popdrop can serve."""


class InvalidPassword(ValueError):
    """The text cannot be a password: every login method could not carry it, or it holds
    characters nobody can see or type reliably."""


def normalize_address(text: str) -> Address:
    """The canonical form of a mailbox address, or raise InvalidAddress saying why.

    Trimmed, lower-case (addresses are case-insensitive throughout popdrop) and NFC, so one mailbox
    has one spelling in storage; no control or invisible character; at most MAX_ADDRESS_OCTETS in
    UTF-8; and a local part of one script, since a mixed one is the mark of a look-alike
    ("p\\u0430ypal", with a Cyrillic "a"; docs/security.md).
    """
    address = precis.nfc(text.strip().lower())
    if hidden := precis.invisible(address):
        raise InvalidAddress(f"an address holds no control or invisible character ({hidden})")
    if not _ADDRESS_RE.fullmatch(address) or ".." in address.split("@", 1)[1]:
        raise InvalidAddress(f"not a mailbox address: {text!r}")
    local = address.rpartition("@")[0]
    if len(local.encode()) > _MAX_LOCAL_OCTETS or len(address.encode()) > MAX_ADDRESS_OCTETS:
        raise InvalidAddress(
            f"an address is at most {MAX_ADDRESS_OCTETS} octets in UTF-8, its local part at most"
            f" {_MAX_LOCAL_OCTETS}: {text!r}"
        )
    if precis.mixed_script(local):
        raise InvalidAddress(f"the local part mixes scripts, as a look-alike does: {text!r}")
    return Address(address)


def normalize_password(text: str) -> str:
    """A password in its one form (RFC 8265 §4.2 OpaqueString): non-ASCII spaces mapped to
    U+0020, NFC, not empty, no control or invisible character, at most MAX_PASSWORD_OCTETS in
    UTF-8. Applied where a password is set and where one is offered at login."""
    password = precis.nfc(precis.spaces_to_ascii(text))
    if not password:
        raise InvalidPassword("the password is empty")
    if hidden := precis.invisible(password):
        raise InvalidPassword(f"the password holds a control or invisible character ({hidden})")
    if len(password.encode()) > MAX_PASSWORD_OCTETS:
        raise InvalidPassword(
            f"the password is longer than {MAX_PASSWORD_OCTETS} octets in UTF-8, the most a PASS"
            " line carries (RFC 2449 §4)"
        )
    return password


def normalize_route_address(text: str) -> str:
    """An alias's canonical address, or `@domain` for the domain's catch-all (lower-case)."""
    if text.strip().startswith("@"):
        return "@" + normalize_address("catch-all" + text.strip()).partition("@")[2]
    return normalize_address(text)


def is_valid_uid(uid: str) -> bool:
    return _UID_RE.fullmatch(uid) is not None


@dataclass(frozen=True, slots=True)
class AppPassword:
    """A named, revocable password for one device, generated by `popdrop.auth.app_passwords`.

    `digest` is a fast hash: the password is random with 160 bits of entropy, so it cannot be
    guessed offline the way a chosen password can, and checking it costs microseconds.
    """

    name: str
    digest: str
    created_at: int  # epoch seconds
    last_used_at: int | None = None
    last_address: str = ""

    def __post_init__(self) -> None:
        if not _APP_PASSWORD_NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"invalid app password name {self.name!r}: 1-32 letters, digits, '.', '_' or '-'"
            )


@dataclass(frozen=True, slots=True)
class ScramKeys:
    """SCRAM-SHA-256 verifier (RFC 5802 §3, RFC 7677): what the server keeps instead of a password.

    StoredKey = H(ClientKey) and ServerKey let the server check a client's proof and prove itself,
    but neither lets anyone log in: they are not plaintext-equivalent.
    """

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox profile: who may log in and what the mailbox holds."""

    address: Address
    password_hash: str
    created_at: int  # epoch seconds
    message_count: int = 0
    octets: int = 0
    app_passwords: tuple[AppPassword, ...] = ()
    scram: ScramKeys | None = None


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

    mailbox: Address
    uid: str
    object_key: str
    size: int
    header_size: int
    arrived_at: int  # epoch milliseconds; with uid, orders the maildrop
    summary: Summary = field(default_factory=Summary)
    tag: str = ""  # the plus-address tag the message was sent to (user+tag@domain), if any
    verdicts: Verdicts = field(default_factory=Verdicts)
    folder: FolderId = INBOX_ID  # where it lives: the maildrop, the quarantine, or a folder

    def __post_init__(self) -> None:
        if not is_valid_uid(self.uid):
            raise ValueError(f"invalid unique id: {self.uid!r}")
        if self.size < 0 or not 0 <= self.header_size <= self.size:
            raise ValueError(f"invalid sizes: size={self.size} header_size={self.header_size}")


@dataclass(frozen=True, slots=True)
class Listing:
    """A folder's messages in arrival order, as one strongly consistent read found them, and
    until when that read stays true without a change: the earliest expiry (epoch seconds) among
    them, None when none of them expires."""

    messages: tuple[MessageEntry, ...]
    fresh_until: int | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A mailbox's maildrop as a POP3 session sees it: listed once at login and fixed from then on
    (RFC 1939 §8 exclusive access; mail arriving meanwhile shows at the next login). `folder` is
    the folder listed: INBOX, unless a POP4 login named another (`user+folder`)."""

    mailbox: Address
    messages: tuple[MessageEntry, ...]
    folder: FolderId = INBOX_ID


class Disposition(enum.StrEnum):
    """What a mailbox's policy does with a message, from the mildest to the most severe."""

    DELIVER = "deliver"
    QUARANTINE = "quarantine"  # kept out of the POP3 maildrop, visible and releasable
    DROP = "drop"  # not filed anywhere; logged with the reason

    @property
    def severity(self) -> int:
        return list(Disposition).index(self)


@dataclass(frozen=True, slots=True)
class Policy:
    """A mailbox's delivery policy: the action taken when a verdict is FAIL, and its quotas.

    Only FAIL triggers an action: GRAY, PROCESSING_FAILED, DISABLED and an absent verdict deliver
    (SES's own guidance: a failed scan is no evidence against the message). Quotas of 0 are
    unlimited; a message over quota is quarantined with the reason, never lost.
    """

    spam: Disposition = Disposition.QUARANTINE
    virus: Disposition = Disposition.DROP
    spf: Disposition = Disposition.DELIVER
    dkim: Disposition = Disposition.DELIVER
    dmarc: Disposition = Disposition.DELIVER
    max_messages: int = 0
    max_octets: int = 0

    def __post_init__(self) -> None:
        if self.max_messages < 0 or self.max_octets < 0:
            raise ValueError("quotas must not be negative")

    def disposition(self, verdicts: Verdicts) -> tuple[Disposition, str]:
        """The most severe disposition the failed verdicts call for, and why (e.g. "spam=FAIL")."""
        disposition, reason = Disposition.DELIVER, ""
        for kind in VERDICT_KINDS:
            chosen: Disposition = getattr(self, kind)
            if getattr(verdicts, kind) == "FAIL" and chosen.severity > disposition.severity:
                disposition, reason = chosen, f"{kind}=FAIL"
        return disposition, reason


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A message kept out of a mailbox's maildrop, with the reason, until released or removed."""

    entry: MessageEntry
    reason: str
    quarantined_at: int  # epoch milliseconds


@dataclass(frozen=True, slots=True)
class Route:
    """Where mail for an address goes: an alias (`address`) or a domain's catch-all (`@domain`)."""

    address: str  # an Address, or "@domain" (`normalize_route_address`)
    targets: tuple[Address, ...]

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a route needs at least one target mailbox")


def split_plus(address: Address) -> tuple[Address, str]:
    """`user+tag@domain` -> (`user@domain`, `tag`); an address without a tag -> (address, "")."""
    local, _, domain = address.rpartition("@")
    base, plus, tag = local.partition("+")
    if not plus or not base:
        return address, ""
    return Address(f"{base}@{domain}"), tag
