"""The stored form of a message (DESIGN: S3 objects are exactly what RETR sends before stuffing)."""

from __future__ import annotations

import pytest

from popdrop.canonical import has_bare_lf, to_canonical


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\r\nb\nc", b"a\r\nb\r\nc\r\n"),
        (b"no final newline", b"no final newline\r\n"),
        (b"\n\n", b"\r\n\r\n"),
        (b"", b""),
        (b"bare\rcr\r\n", b"bare\rcr\r\n"),
    ],
)
def test_line_ends_become_crlf_and_a_final_crlf_is_added(raw: bytes, stored: bytes) -> None:
    assert to_canonical(raw) == stored
    assert not has_bare_lf(stored)


def test_canonical_form_is_a_fixed_point() -> None:
    text = b"Subject: x\n\n.\n..\nend"
    assert to_canonical(to_canonical(text)) == to_canonical(text)
