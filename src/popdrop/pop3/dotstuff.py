"""Dot-stuffing a stored message for RETR and TOP, chunk by chunk (RFC 1939 §3 and §7).

A line begins at the start of the message and after every LF; a line beginning with "." is sent
with one more "." in front. The state carried between chunks is a few flags, so a chunk boundary
may fall anywhere. Each chunk is handled with `bytes.find`/`count` and one compiled substitution,
never byte by byte.
"""

from __future__ import annotations

import enum
import re

# re's literal search finds each LF with memchr and then checks the next octet, in one pass;
# `bytes.replace(b"\n.", b"\n..")` makes two (count, then copy), each in Python's generic
# two-octet search (docs/performance.md has the figures).
_LINE_STARTING_WITH_DOT = re.compile(rb"\n\.")


class _LineSoFar(enum.Enum):
    """What the current line holds so far, to find TOP's empty line across chunks."""

    NOTHING = enum.auto()  # at a line start
    CR = enum.auto()  # just a CR
    TEXT = enum.auto()  # anything else: this line is not empty


class Stuffer:
    """Feed the message in chunks, write what `feed` returns, then write `finish()`.

    With `top_lines=k` (TOP), only the header block through its first empty line and then at most
    k body lines go out; a message without an empty line goes out whole. `done` turns True once
    nothing more would be sent, so the caller can stop reading the object.
    """

    __slots__ = ("_at_line_start", "_done", "_in_header", "_line", "_remaining", "_tail")

    def __init__(self, top_lines: int | None = None) -> None:
        if top_lines is not None and top_lines < 0:
            raise ValueError("top_lines must not be negative")
        # Body lines TOP may still send; None for RETR, which sends everything.
        self._remaining = top_lines
        self._in_header = top_lines is not None
        self._line = _LineSoFar.NOTHING
        self._at_line_start = True
        self._tail = b""  # the last two octets sent, to know whether the output ends with CRLF
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, chunk: bytes) -> bytes:
        """The dot-stuffed part of `chunk` to send (empty once `done`)."""
        if self._done or not chunk:
            return b""
        if self._remaining is not None:
            chunk = self._cut(chunk, self._remaining)
        out = _LINE_STARTING_WITH_DOT.sub(b"\n..", chunk)
        if self._at_line_start and chunk.startswith(b"."):
            out = b"." + out
        self._at_line_start = chunk.endswith(b"\n")
        self._tail = (self._tail + out[-2:])[-2:]
        return out

    def finish(self) -> bytes:
        """The end of the multi-line response: "." CRLF, after a CRLF if the output lacks one."""
        return b".\r\n" if self._tail in (b"", b"\r\n") else b"\r\n.\r\n"

    def _cut(self, chunk: bytes, remaining: int) -> bytes:
        """The part of `chunk` TOP sends (never empty for a non-empty chunk)."""
        start = 0
        if self._in_header:
            start = self._header_end(chunk)
            if start < 0:
                return chunk
            self._in_header = False
        lines = chunk.count(b"\n", start)
        if lines < remaining:
            self._remaining = remaining - lines
            return chunk
        end = start - 1
        for _ in range(remaining):  # one find per line, and only within the lines still owed
            end = chunk.index(b"\n", end + 1)
        self._remaining = 0
        self._done = True
        return chunk[: end + 1]

    def _header_end(self, chunk: bytes) -> int:
        """The index just past the header block's empty line in `chunk`, or -1 if it is not here."""
        # An empty line that begins at this chunk's start, perhaps after a CR from the last one.
        if self._line is _LineSoFar.NOTHING:
            if chunk.startswith(b"\n"):
                return 1
            if chunk.startswith(b"\r\n"):
                return 2
        elif self._line is _LineSoFar.CR and chunk.startswith(b"\n"):
            return 1
        bare = chunk.find(b"\n\n")
        crlf = chunk.find(b"\n\r\n")
        if bare >= 0 and not 0 <= crlf < bare:
            return bare + 2
        if crlf >= 0:
            return crlf + 3
        if chunk.endswith(b"\n"):
            self._line = _LineSoFar.NOTHING
        elif chunk.endswith(b"\n\r") or (chunk == b"\r" and self._line is _LineSoFar.NOTHING):
            self._line = _LineSoFar.CR
        else:
            self._line = _LineSoFar.TEXT
        return -1
