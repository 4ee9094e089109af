"""A message's headers and its MIME tree, with IMAP-style part ids (RFC 3501 §6.4.5).

Part ids: a message that is not multipart has one part, `1` (its body). The parts of a multipart
are numbered 1, 2, ... in order, and the parts of a nested multipart or of an attached message
(`message/rfc822`) get their parent's id and a dot before their own (`1.2`, `3.1`). A multipart
that is a message's root has no IMAP number of its own: it is listed as its message's `TEXT`
(`TEXT` for the message itself, `3.TEXT` for the message attached as part 3), as IMAP names the
body of a message.

Parsing never fails: the `email` package takes any octets (defects are noted, not raised), and a
header whose encoded words cannot be decoded is shown as it was sent.
"""

from __future__ import annotations

import email.errors
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Final

_MAX_DEPTH: Final = 32  # nesting deeper than this is not listed (a crafted message could recurse)
_CRLF: Final = policy.default.clone(linesep="\r\n")  # stored messages end lines with CRLF


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    value: str  # RFC 2047 encoded words decoded, folding removed


@dataclass(frozen=True, slots=True)
class Part:
    id: str
    content_type: str  # type/subtype, lower case (text/plain when absent or invalid, RFC 2045 §5.2)
    charset: str | None  # text parts only; RFC 2045 §5.2: us-ascii when not given
    size: int  # octets of `content(part)`: decoded content, or a container's body as sent
    filename: str | None  # RFC 2231 and RFC 2047 encodings decoded
    disposition: str | None  # inline, attachment, or None when the part does not say
    content_id: str | None  # without the angle brackets: what `cid:` URLs name (RFC 2392)
    container: bool  # a multipart or an attached message: its children follow it


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def headers(message: Message) -> list[Header]:
    """Every header of the message (not of its parts), in order, repeated ones included."""
    return [Header(name, _decoded(name, raw)) for name, raw in message.raw_items()]


def parts(message: Message) -> list[Part]:
    """Every MIME part in tree order (depth first), containers before their children."""
    return [describe(part_id, part) for part_id, part in walk(message)]


def find(message: Message, part_id: str) -> Message | None:
    return next((part for found, part in walk(message) if found == part_id), None)


def content(part: Message) -> bytes:
    """A leaf's content with its transfer encoding (base64, quoted-printable) undone; an attached
    message as its octets; a multipart's body (with its boundaries)."""
    if part.get_content_type() == "message/rfc822":
        inner = _inner(part)
        return b"" if inner is None else inner.as_bytes(policy=_CRLF)
    if part.is_multipart():
        return part.as_bytes(policy=_CRLF).partition(b"\r\n\r\n")[2]
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def walk(message: Message) -> Iterator[tuple[str, Message]]:
    """(id, part) for every part in tree order."""
    if message.is_multipart():
        yield "TEXT", message
        yield from _children(message, "", 1)
    else:
        yield "1", message
        yield from _attached(message, "1", 1)


def _children(container: Message, prefix: str, depth: int) -> Iterator[tuple[str, Message]]:
    if depth > _MAX_DEPTH:
        return
    payload = container.get_payload()
    for number, child in enumerate(payload if isinstance(payload, list) else [], start=1):
        if not isinstance(child, Message):
            continue
        part_id = f"{prefix}{number}"
        yield part_id, child
        if child.is_multipart() and child.get_content_type() != "message/rfc822":
            yield from _children(child, part_id + ".", depth + 1)
        else:
            yield from _attached(child, part_id, depth + 1)


def _inner(part: Message) -> Message | None:
    """The message a message/rfc822 part holds."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    return inner if isinstance(inner, Message) else None


def _attached(part: Message, part_id: str, depth: int) -> Iterator[tuple[str, Message]]:
    """The parts of a message attached as `part_id` (message/rfc822), numbered under it."""
    inner = _inner(part) if part.get_content_type() == "message/rfc822" else None
    if inner is None or depth > _MAX_DEPTH:
        return
    if inner.is_multipart():
        yield f"{part_id}.TEXT", inner
        yield from _children(inner, part_id + ".", depth + 1)
    else:
        yield f"{part_id}.1", inner


def describe(part_id: str, part: Message) -> Part:
    container = part.is_multipart() or part.get_content_type() == "message/rfc822"
    return Part(
        id=part_id,
        content_type=part.get_content_type(),
        charset=part.get_content_charset("us-ascii")
        if part.get_content_maintype() == "text"
        else None,
        size=len(content(part)),
        filename=_safely(part.get_filename),
        disposition=_safely(part.get_content_disposition),
        content_id=_content_id(part),
        container=container,
    )


def _content_id(part: Message) -> str | None:
    raw = part.get("Content-ID")
    if raw is None:
        return None
    value = str(raw).strip()
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value or None


def _safely(read: Callable[[], object]) -> str | None:
    """A header-derived value, or None when the header is too broken to read."""
    try:
        value = read()
    except (email.errors.MessageError, ValueError, IndexError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _decoded(name: str, raw: str) -> str:
    try:
        return str(policy.default.header_fetch_parse(name, raw))
    except (email.errors.MessageError, ValueError, IndexError, AttributeError, LookupError):
        # Not decodable (an unknown charset, a malformed encoded word): as sent, unfolded.
        return " ".join(raw.split())
