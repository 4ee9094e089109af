"""The tricky messages every real client must retrieve byte-exact (issue 3).

Each source is what an operator would hand to `popdrop deliver`; `stored` is what popdrop keeps
and RETR sends (the canonical form: CRLF line ends, a final CRLF), so a client's result is
compared with `stored`, after undoing only that client's own documented transformations.
"""

from __future__ import annotations

import base64
import random
from typing import Final

from popdrop.canonical import to_canonical

SMALL: Final[dict[str, bytes]] = {
    # RFC 1939 §3: the very first octet starts a line and must be stuffed (Dovecot 2.3 does not).
    "leading-dot": b".Leading: dot\r\nSubject: first octet is a dot\r\n\r\n.body dot\r\n",
    # A line that is only "." would end the response early if it were not stuffed.
    "dot-line": b"Subject: a line that is only a dot\r\n\r\nbefore\r\n.\r\nafter\r\n..\r\n",
    # A Unix file: `deliver` stores CRLF, so every client sees CRLF.
    "bare-lf": b"Subject: bare LF in the source\n\nline one\nline two\n",
    "8bit-headers": (
        "Subject: Gr\u00fc\u00dfe aus K\u00f6ln\r\nFrom: Jos\u00e9 <jose@example.test>\r\n"
        "\r\nK\u00f6rper \u2713\r\n"
    ).encode(),
    "64k-line": b"Subject: one 64 KiB line\r\n\r\n" + b"x" * 65536 + b"\r\n",
    "no-final-newline": b"Subject: no final newline\r\n\r\nlast line without CRLF",
    "empty-body": b"Subject: empty body\r\nFrom: e@example.test\r\n\r\n",
}


def _big() -> bytes:
    """A MIME message with a 10 MiB attachment (base64 in 76-column lines), fixed content."""
    payload = random.Random(3).randbytes(10 * 1024 * 1024)
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        b"Subject: a 10 MiB attachment\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--b--\r\n"
    )


BIG: Final = _big()


def stored(source: bytes) -> bytes:
    """What popdrop stores for `source` and RETR sends (DESIGN invariant 4)."""
    return to_canonical(source)
