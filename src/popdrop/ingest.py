"""Recipients -> mailbox entries: the one path every message takes into popdrop.

Used by the ingest Lambda (SES events), the local SMTP stand-in and `popdrop deliver`. A message
costs one ranged GET (its header block) plus one transaction per recipient, and delivering it
again changes nothing (DESIGN invariant 1): each entry write is conditional (`Store.add_message`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from email import policy
from email.headerregistry import HeaderRegistry
from email.parser import HeaderParser
from typing import Any, Final

from popdrop.events import parse_ses_event
from popdrop.logfmt import log_event, now_ms
from popdrop.model import InvalidAddress, MessageEntry, Summary, is_valid_uid, normalize_address
from popdrop.store import MailboxNotFound, Store

logger = logging.getLogger("popdrop.ingest")

# The first read covers the header block of nearly every message (SES itself stops reporting
# headers at 10 KB); a longer block costs one more read, up to HEADER_LIMIT.
HEAD_READ: Final = 64 * 1024
HEADER_LIMIT: Final = 1024 * 1024
SUMMARY_LIMIT: Final = 512  # characters kept per summary header, for the API's listings
_RAW_LIMIT: Final = 4 * SUMMARY_LIMIT  # encoded-words shrink when decoded: parse a little more
# An empty line ends the header block (RFC 5322 §2.1); it may be the very first line.
_BLANK_LINE: Final = re.compile(rb"(?:^|\n)\r?\n")
_CONTROLS_AND_SPACE: Final = re.compile(r"[\x00-\x20\x7f]+")
# Every header as unstructured text: encoded-words decoded (RFC 2047), nothing else reinterpreted
# (the structured parsers rewrite dates and raise on junk such as Message-ID "<<<@@>>>").
_DECODER: Final = HeaderRegistry(use_default_map=False)
_SUMMARY_HEADERS: Final = {
    "sender": "From",
    "to": "To",
    "subject": "Subject",
    "date": "Date",
    "message_id": "Message-ID",
}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Where one message went: mailbox addresses, each in exactly one tuple."""

    message_id: str
    object_key: str
    delivered: tuple[str, ...] = ()
    duplicate: tuple[str, ...] = ()  # already in the mailbox: a replayed event
    unknown: tuple[str, ...] = ()  # no such mailbox (or not an address at all)


@dataclass(frozen=True, slots=True)
class _Head:
    size: int
    header_size: int
    summary: Summary


def ingest(
    store: Store,
    *,
    message_id: str,
    object_key: str,
    recipients: Iterable[str],
    arrived_at: int,
) -> IngestResult:
    """File the stored object `object_key` into each recipient's mailbox (arrived_at: epoch ms)."""
    addresses, unknown = _resolve(recipients)
    delivered: list[str] = []
    duplicate: list[str] = []
    if addresses:
        head = _read_head(store, object_key)
        uid = unique_id(message_id)
        for address in addresses:
            entry = MessageEntry(
                mailbox=address,
                uid=uid,
                object_key=object_key,
                size=head.size,
                header_size=head.header_size,
                arrived_at=arrived_at,
                summary=head.summary,
            )
            try:
                outcome = delivered if store.add_message(entry) else duplicate
            except MailboxNotFound:
                outcome = unknown
            outcome.append(address)
    for event, group in (("delivered", delivered), ("duplicate", duplicate), ("unknown", unknown)):
        for address in group:
            log_event(logger, f"ingest.{event}", message_id=message_id, mailbox=address)
    return IngestResult(message_id, object_key, tuple(delivered), tuple(duplicate), tuple(unknown))


def ingest_ses_event(store: Store, event: Mapping[str, Any]) -> list[IngestResult]:
    """Ingest every message of an SES receipt event; raises InvalidEvent before any write when the
    event is malformed."""
    messages = parse_ses_event(event)
    for message in messages:
        log_event(
            logger,
            "ingest.received",
            message_id=message.message_id,
            source=message.source[:320],
            recipients=len(message.recipients),
            **asdict(message.verdicts),
        )
    return [
        ingest(
            store,
            message_id=message.message_id,
            object_key=store.incoming_key(message.message_id),
            recipients=message.recipients,
            arrived_at=message.timestamp_ms,
        )
        for message in messages
    ]


def new_message_id() -> str:
    """A unique id shaped like SES's (lower-case letters and digits) for mail that does not come
    through SES. Milliseconds first, in an order-preserving alphabet, so ids sort by time."""
    raw = (now_ms() % 2**48).to_bytes(6, "big") + secrets.token_bytes(14)
    return base64.b32hexencode(raw).decode("ascii").lower()


def unique_id(message_id: str) -> str:
    """The message's UIDL (RFC 1939 §7): the message id itself when it is a valid unique id, else
    a token derived from it, so a replayed event gets the same one."""
    if is_valid_uid(message_id):
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256-{digest[:40]}"


def header_block_size(head: bytes) -> int | None:
    """Octets up to and including the empty line that ends the header block, or None if `head`
    holds no such line."""
    match = _BLANK_LINE.search(head)
    return match.end() if match else None


def parse_summary(header_block: bytes) -> Summary:
    """The summary headers, decoded (RFC 2047 encoded-words; UTF-8 per RFC 6532; other 8-bit
    bytes become U+FFFD), unfolded, stripped of controls and cut to SUMMARY_LIMIT characters."""
    headers = HeaderParser(policy=policy.compat32).parsestr(header_block.decode("utf-8", "replace"))
    fields = {}
    for field, name in _SUMMARY_HEADERS.items():
        raw = _clean(str(headers.get(name, "")))[:_RAW_LIMIT]
        fields[field] = _clean(str(_DECODER(name, raw)))[:SUMMARY_LIMIT]
    return Summary(**fields)


def _clean(text: str) -> str:
    return _CONTROLS_AND_SPACE.sub(" ", text).strip()


def _resolve(recipients: Iterable[str]) -> tuple[list[str], list[str]]:
    """Normalised, deduplicated addresses (in order), and the recipients that are no address."""
    addresses: dict[str, None] = {}
    invalid: list[str] = []
    for recipient in recipients:
        try:
            addresses[normalize_address(recipient)] = None
        except InvalidAddress:
            invalid.append(recipient.strip()[:320])
    return list(addresses), invalid


def _read_head(store: Store, object_key: str) -> _Head:
    head, size = store.read_object_head(object_key, HEAD_READ)
    header_size = header_block_size(head)
    if header_size is None and size > len(head):
        head, size = store.read_object_head(object_key, HEADER_LIMIT)
        header_size = header_block_size(head)
    if header_size is None:
        # No empty line: the message is all header (RFC 5322 §3.5: the body is optional), or its
        # header block outgrew HEADER_LIMIT; either way TOP sends the whole message.
        header_size = size
    return _Head(size, header_size, parse_summary(head[:header_size]))
