"""The header block: its size, the summary headers, SES's verdict headers, the recipient headers,
and the ids ingest derives. Pure: no IO."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses
from typing import Final

from popdrop.logfmt import now_ms
from popdrop.model import Summary, Verdicts, is_valid_uid

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
    headers = parse_headers(header_block)
    fields = {}
    for field, name in _SUMMARY_HEADERS.items():
        raw = _clean(str(headers.get(name, "")))[:_RAW_LIMIT]
        fields[field] = _clean(str(_DECODER(name, raw)))[:SUMMARY_LIMIT]
    return Summary(**fields)


def _clean(text: str) -> str:
    return _CONTROLS_AND_SPACE.sub(" ", text).strip()


# Where a message stored without an SES event names its recipients, most specific first:
# Delivered-To / X-Original-To record the envelope recipient where a forwarder wrote them.
RECIPIENT_HEADERS: Final = ("Delivered-To", "X-Original-To", "To", "Cc")
MAX_HEADER_RECIPIENTS: Final = 100  # SES's own limit of recipients per message
_RESULT_RE: Final = re.compile(r"\b(spf|dkim|dmarc)=([a-z]+)", re.IGNORECASE)
_SES_AUTHSERV: Final = "amazonses.com"


def parse_headers(header_block: bytes) -> Message:
    return HeaderParser(policy=policy.compat32).parsestr(header_block.decode("utf-8", "replace"))


def header_recipients(header_block: bytes) -> list[str]:
    """The addresses in the recipient headers, in order, at most MAX_HEADER_RECIPIENTS."""
    headers = parse_headers(header_block)
    values = [str(value) for name in RECIPIENT_HEADERS for value in headers.get_all(name, [])]
    found = [address for _, address in getaddresses(values) if "@" in address]
    return found[:MAX_HEADER_RECIPIENTS]


def header_verdicts(header_block: bytes) -> Verdicts:
    """SES's verdicts as it writes them into the stored message (X-SES-Spam-Verdict,
    X-SES-Virus-Verdict, and `Authentication-Results: amazonses.com; spf=...; dkim=...;
    dmarc=...`), for objects ingested without an SES event. SES prepends these headers, so only
    the first of each counts: a sender's forged copy further down is ignored."""
    headers = parse_headers(header_block)
    found: dict[str, str | None] = {
        kind: verdict.upper() if (verdict := _first(headers, name)) else None
        for kind, name in (("spam", "X-SES-Spam-Verdict"), ("virus", "X-SES-Virus-Verdict"))
    }
    results = _first(headers, "Authentication-Results") or ""
    if results.split(";", 1)[0].strip().lower() == _SES_AUTHSERV:
        for kind, result in _RESULT_RE.findall(results):
            found.setdefault(kind.lower(), _status(result))
    return Verdicts(**found)


def _first(headers: Message, name: str) -> str | None:
    value = headers.get(name)
    return None if value is None else _clean(str(value))


def _status(result: str) -> str:
    return {"pass": "PASS", "fail": "FAIL"}.get(result.lower(), "GRAY")
