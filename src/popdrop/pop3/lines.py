"""Splitting the client's byte stream into command lines, in bounded memory.

RFC 1939 §3 ends every command with CRLF; bare LF is accepted too (some clients send it) and a CR
before the LF is stripped. RFC 2449 §4 bounds a command line at 255 octets including its CRLF: a
longer line becomes one `LineTooLong` event and the rest of it is dropped as it arrives, so what
the splitter holds of an unfinished line never reaches the limit, whatever the client sends.
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 2449 §4: "the maximum length of a command line is 255 octets, including the terminating CRLF".
DEFAULT_MAX_LINE = 255


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line exceeded the limit; its content was discarded up to and including its LF."""


LINE_TOO_LONG = LineTooLong()
_CR = ord("\r")


class LineSplitter:
    """Bytes in (`feed`), one line at a time out (`next_line`); resumes anywhere in a line.

    A line with its terminator (LF or CRLF) may take at most `max_line` octets. Complete lines wait
    until asked for, so what the caller feeds between drains bounds the memory of waiting lines;
    the unfinished last line is cut to `max_line` octets as soon as it cannot fit any more.
    """

    __slots__ = ("_buffer", "_max_line", "_skipping", "_start")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self._max_line = max_line
        # What was fed and not yet taken is `_buffer[_start:]`: taking a line moves `_start` on,
        # one slice per line and no copying of the rest of the window.
        self._buffer = b""
        self._start = 0
        # True while the rest of an over-long line is dropped on arrival. Nothing is appended
        # meanwhile, so the buffer then ends with that line's kept head, or is empty once the
        # head has been reported.
        self._skipping = False

    @property
    def buffered(self) -> int:
        """Octets of client input held (complete lines not yet taken, plus the unfinished one)."""
        return len(self._buffer) - self._start

    def feed(self, data: bytes) -> None:
        held = self._buffer[self._start :]
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                return
            self._skipping = False
            # The over-long line's head, if not reported yet, is ended, so that `next_line` sees
            # a complete line that is too long.
            self._buffer = (held + b"\n" if held else b"") + data[end + 1 :]
        else:
            self._buffer = held + data
        self._start = 0
        start = self._buffer.rfind(b"\n") + 1
        if len(self._buffer) - start >= self._max_line:
            # Even a bare LF would not fit now: keep just enough of the line to know it is too long.
            self._buffer = self._buffer[: start + self._max_line]
            self._skipping = True

    def next_line(self) -> bytes | LineTooLong | None:
        """The next line without its terminator, `LINE_TOO_LONG`, or None if none is complete."""
        buffer, start = self._buffer, self._start
        end = buffer.find(b"\n", start, start + self._max_line)
        if end >= 0:
            self._start = end + 1
            return buffer[start : end - 1 if end > start and buffer[end - 1] == _CR else end]
        if len(buffer) - start < self._max_line:
            if start:  # the lines taken are done with: hold only the unfinished one
                self._buffer, self._start = buffer[start:], 0
            return None
        end = buffer.find(b"\n", start + self._max_line)
        self._start = end + 1 if end >= 0 else len(buffer)
        return LINE_TOO_LONG

    @property
    def max_line(self) -> int:
        return self._max_line

    @max_line.setter
    def max_line(self, value: int) -> None:
        """Change the limit for lines not yet fed (a SASL response may be longer than a command)."""
        if value < 1:
            raise ValueError("max_line must be at least 1")
        self._max_line = value

    def discard(self) -> None:
        """Drop everything buffered (RFC 2595 §4: nothing sent before TLS counts after it)."""
        self._buffer, self._start = b"", 0
        self._skipping = False
