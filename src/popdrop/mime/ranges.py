"""A message's MIME structure (RFC 2045, RFC 2046) as byte ranges of the stored object, found in
one streaming pass in bounded memory. Pure: no IO.

POP4's MIME command lists the parts and PART sends one of them, read with one ranged GET: the
offsets found here are what that GET asks for. Parts are numbered as IMAP numbers them (RFC 3501
§6.4.5): the parts of a multipart are 1, 2, ...; the parts of a nested multipart part 2 are 2.1,
2.2, ...; a message that is not multipart has the one part 1. A message/rfc822 part is one part
(its inside is not numbered). A part's octets run from the end of its header block to the start of
the boundary line that follows it, the line end before that boundary included (RFC 2046 §5.1.1
counts that CRLF with the boundary, so IMAP's part size is two less); for the single part of a
message that is not multipart, to the message's end.
"""

from __future__ import annotations

import email.header
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Final

MAX_PARTS: Final = 256  # parts listed per message; a message with more is listed in part
MAX_NESTING: Final = 16  # multiparts inside multiparts; deeper ones count as single parts
# Octets of one line kept: enough for any header line a mailer folds (RFC 5322 §2.1.1: 998) and
# any boundary line (RFC 2046 §5.1.1: at most 70 + 4); the rest of a longer line is only counted.
LINE_KEPT: Final = 1000
HEADER_BLOCK_KEPT: Final = 64 * 1024  # of one part's header block; the rest is not read
FILENAME_LIMIT: Final = 200  # characters of a filename shown
_PART_ID = re.compile(r"[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,8}){0,15}")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def is_part_id(text: str) -> bool:
    """A part id as MIME lists them: "1", "2.3", ..."""
    return _PART_ID.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class MimePart:
    id: str
    content_type: str  # type/subtype, lower-case
    start: int  # the first octet of the part's body in the object
    end: int  # one past its last
    filename: str = ""

    @property
    def octets(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class MimeStructure:
    parts: tuple[MimePart, ...]
    complete: bool = True  # False: the message has more than MAX_PARTS parts

    def part(self, part_id: str) -> MimePart | None:
        return next((part for part in self.parts if part.id == part_id), None)


@dataclass(slots=True)
class _Multipart:
    """An open multipart: its boundary line, its parts' id prefix, how many parts it has had, and
    the index (in the parts found) of the part being read, if that one is listed."""

    delimiter: bytes  # "--" + boundary
    prefix: str  # "" for the message's own parts, "2." for part 2's
    digest: bool  # multipart/digest: parts default to message/rfc822 (RFC 2046 §5.1.5)
    count: int = 0
    open: int | None = None


@dataclass(slots=True)
class _Entity:
    """A header block being read: whose (None: the message's own), and what it holds so far."""

    part_id: str | None
    default_type: str
    header: bytearray = field(default_factory=bytearray)


class StructureParser:
    """Feed the object in chunks of any size, then `finish()`. Memory: one kept line, one header
    block, the parts found and the open multiparts, each bounded above."""

    __slots__ = (
        "_line",
        "_line_length",
        "_offset",
        "_parts",
        "_reading",
        "_single",
        "_stack",
        "_truncated",
    )

    def __init__(self) -> None:
        self._parts: list[MimePart] = []
        self._stack: list[_Multipart] = []
        self._reading: _Entity | None = _Entity(None, "text/plain")
        self._single: int | None = None  # the one part of a message that is not multipart
        self._line = bytearray()  # the current line's first LINE_KEPT octets
        self._line_length = 0
        self._offset = 0  # where the current line starts
        self._truncated = False

    def feed(self, chunk: bytes) -> None:
        start = 0
        while (newline := chunk.find(b"\n", start)) >= 0:
            self._take(chunk, start, newline + 1)
            self._end_line()
            start = newline + 1
        self._take(chunk, start, len(chunk))

    def finish(self) -> MimeStructure:
        """The structure; parts still open (a message cut short) end at the object's end."""
        end = self._offset + self._line_length
        if self._reading is not None:
            self._headers_end(self._reading, end)
        for multipart in self._stack:
            self._close(multipart, end)
        if self._single is not None:
            self._end(self._single, end)
        return MimeStructure(tuple(self._parts), not self._truncated)

    def _take(self, chunk: bytes, start: int, end: int) -> None:
        room = LINE_KEPT - len(self._line)
        if room > 0:
            self._line += chunk[start : min(end, start + room)]
        self._line_length += end - start

    def _end_line(self) -> None:
        line, start = bytes(self._line), self._offset
        self._offset += self._line_length
        self._line.clear()
        self._line_length = 0
        entity = self._reading
        if entity is not None:
            if line in (b"\r\n", b"\n"):
                self._headers_end(entity, self._offset)
            elif len(entity.header) < HEADER_BLOCK_KEPT:
                entity.header += line
        elif self._stack and line.startswith(b"--"):
            self._delimiter(line.rstrip(b"\r\n \t"), start)

    def _headers_end(self, entity: _Entity, body: int) -> None:
        self._reading = None
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(bytes(entity.header))
        headers.set_default_type(entity.default_type)
        content_type = headers.get_content_type()
        delimiter = _delimiter(headers) if content_type.startswith("multipart/") else None
        digest = content_type == "multipart/digest"
        if entity.part_id is None:
            if delimiter is not None:
                self._stack.append(_Multipart(delimiter, "", digest))
            else:
                self._single = self._record("1", content_type, body, headers)
            return
        self._stack[-1].open = self._record(entity.part_id, content_type, body, headers)
        if delimiter is not None and len(self._stack) < MAX_NESTING:
            self._stack.append(_Multipart(delimiter, entity.part_id + ".", digest))

    def _delimiter(self, line: bytes, start: int) -> None:
        """A boundary line of an open multipart (the innermost that matches) ends its part being
        read and every part nested in it; a closing one ("--boundary--", RFC 2046 §5.1.1) ends
        the multipart."""
        for depth in range(len(self._stack) - 1, -1, -1):
            multipart = self._stack[depth]
            closing = line == multipart.delimiter + b"--"
            if closing or line == multipart.delimiter:
                break
        else:
            return  # a body line that only looks like one
        for inner in self._stack[depth:]:
            self._close(inner, start)
        del self._stack[depth + 1 :]
        if closing:
            self._stack.pop()
            return
        multipart.count += 1
        if len(self._parts) >= MAX_PARTS:
            self._truncated = True  # read on as body: neither it nor its parts are listed
            return
        default = "message/rfc822" if multipart.digest else "text/plain"
        self._reading = _Entity(f"{multipart.prefix}{multipart.count}", default)

    def _close(self, multipart: _Multipart, end: int) -> None:
        if multipart.open is not None:
            self._end(multipart.open, end)
            multipart.open = None

    def _end(self, index: int, end: int) -> None:
        part = self._parts[index]
        self._parts[index] = MimePart(part.id, part.content_type, part.start, end, part.filename)

    def _record(self, part_id: str, content_type: str, start: int, headers: Message) -> int:
        self._parts.append(MimePart(part_id, content_type, start, start, _filename(headers)))
        return len(self._parts) - 1


def _delimiter(headers: Message) -> bytes | None:
    """The boundary line of a multipart's parts, "--" + boundary; None without a usable one."""
    boundary = headers.get_boundary()
    if not boundary or len(boundary) > 200:
        return None
    try:
        return b"--" + boundary.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None


def _filename(headers: Message) -> str:
    """The part's file name (Content-Disposition's filename, else Content-Type's name; RFC 2231
    and RFC 2047 encodings decoded), as printable text."""
    raw = headers.get_filename() or headers.get_param("name") or ""
    if isinstance(raw, tuple):  # an RFC 2231 value the parser could not collapse
        raw = str(raw[2])
    try:
        text = str(email.header.make_header(email.header.decode_header(str(raw))))
    except (ValueError, LookupError):
        text = str(raw)
    return _UNPRINTABLE.sub(" ", text).strip()[:FILENAME_LIMIT]


def parse_structure(chunks: Iterable[bytes]) -> MimeStructure:
    parser = StructureParser()
    for chunk in chunks:
        parser.feed(chunk)
    return parser.finish()
