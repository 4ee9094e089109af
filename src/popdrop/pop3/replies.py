"""POP3 reply bytes: status lines (RFC 1939 §3), response codes (RFC 2449 §8, RFC 3206), and
multi-line responses ending in "." (RFC 1939 §3).

Reply text is always the server's own: client bytes are never echoed. Every piece of text is
checked to be printable ASCII, so no reply can carry a CR or LF that would forge another line.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class ResponseCode(enum.StrEnum):
    """Extended response codes, sent in brackets after "-ERR"."""

    IN_USE = "IN-USE"  # RFC 2449 §8.1.1: the maildrop is held by another session
    LOGIN_DELAY = "LOGIN-DELAY"  # RFC 2449 §8.1.2: logging in again too soon
    SYS_TEMP = "SYS/TEMP"  # RFC 3206 §4: a temporary fault; retrying may work
    SYS_PERM = "SYS/PERM"  # RFC 3206 §4: a permanent fault; retrying will not help
    AUTH = "AUTH"  # RFC 3206 §5: the credentials were at fault


def _checked(text: str) -> bytes:
    if not (text.isascii() and text.isprintable()):
        raise ValueError(f"reply text must be printable ASCII: {text!r}")
    return text.encode("ascii")


def ok(text: str = "") -> bytes:
    """A positive status line: "+OK text" CRLF, or "+OK" CRLF."""
    return b"+OK " + _checked(text) + b"\r\n" if text else b"+OK\r\n"


def ok_numbers(first: int, second: int) -> bytes:
    """ "+OK first second" CRLF (STAT, LIST n): decimal numbers need no check."""
    return b"+OK %d %d\r\n" % (first, second)


def err(text: str, code: ResponseCode | None = None) -> bytes:
    """A negative status line: "-ERR [CODE] text" CRLF."""
    prefix = f"[{code}] " if code is not None else ""
    return b"-ERR " + _checked(prefix + text) + b"\r\n"


def multiline(status: bytes, lines: Iterable[str]) -> bytes:
    """A status line, the lines (dot-stuffed, RFC 1939 §3), and the terminating "." line."""
    body = b"".join(
        (b"." if line.startswith(".") else b"") + _checked(line) + b"\r\n" for line in lines
    )
    return status + body + b".\r\n"


def numbered(status: bytes, lines: list[str]) -> bytes:
    """As `multiline`, for LIST's and UIDL's lines, each "n size" or "n unique-id" with its CRLF:
    they begin with a digit, so none is dot-stuffed, and they hold decimal numbers and unique ids,
    which `MessageEntry` holds to printable ASCII (`model.is_valid_uid`), so they are joined and
    encoded at once: these replies are most of a polling client's bytes of commands."""
    return status + "".join(lines).encode("ascii") + b".\r\n"


def multiline_text(status: bytes, lines: Iterable[str]) -> bytes:
    """As `multiline`, for lines that carry names in UTF-8 (POP4's folder names and file names,
    docs/pop4.md): printable text, never a control character that could break a line."""
    body = b"".join(
        (b"." if line.startswith(".") else b"") + _printable(line) + b"\r\n" for line in lines
    )
    return status + body + b".\r\n"


def _printable(text: str) -> bytes:
    if not text.isprintable():
        raise ValueError(f"reply text must be printable: {text!r}")
    return text.encode("utf-8")
