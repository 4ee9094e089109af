"""The canonical stored form of a message: exactly what RETR sends before dot-stuffing.

RFC 5322 §2.1 and RFC 1939 §3 speak in CRLF-terminated lines, so a stored message has CRLF line
ends and ends with CRLF. Bare LF (files written on Unix) becomes CRLF; a missing final line end is
added, so LIST's size always equals the octets RETR sends before stuffing (DESIGN invariant 4).
"""

from __future__ import annotations

import re

_BARE_LF = re.compile(rb"(?<!\r)\n")


def to_canonical(data: bytes) -> bytes:
    data = _BARE_LF.sub(b"\r\n", data)
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def has_bare_lf(data: bytes) -> bool:
    """True when some LF in `data` has no CR before it (so the message is not canonical)."""
    return _BARE_LF.search(data) is not None
