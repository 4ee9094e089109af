"""The command-line splitter: line ends (RFC 1939 §3), the 255-octet limit (RFC 2449 §4), and
bounded memory whatever the client sends (DESIGN invariant 7)."""

from __future__ import annotations

import pytest

from popdrop.pop3.lines import LINE_TOO_LONG, LineSplitter, LineTooLong

# A realistic pipelined dialogue, with a bare LF, a stray CR, an empty line and an over-long line.
TRANSCRIPT = (
    b"CAPA\r\nUSER alice@example.test\r\nPASS correct horse battery staple\r\nSTAT\r\n"
    b"LIST\nUIDL 2\r\nRETR 1\r\nTOP 2 10\r\n\r\nDELE 1\r\n" + b"X" * 300 + b"\r\n"
    b"noop\r\r\nRSET\r\nQUIT\r\n"
)


def lines_of(splitter: LineSplitter) -> list[bytes | LineTooLong]:
    out: list[bytes | LineTooLong] = []
    while (line := splitter.next_line()) is not None:
        out.append(line)
    return out


def split(chunks: list[bytes], max_line: int = 255) -> list[bytes | LineTooLong]:
    splitter = LineSplitter(max_line)
    out: list[bytes | LineTooLong] = []
    for chunk in chunks:
        splitter.feed(chunk)
        out += lines_of(splitter)
        assert splitter.buffered < max_line
    return out


EXPECTED = [
    b"CAPA",
    b"USER alice@example.test",
    b"PASS correct horse battery staple",
    b"STAT",
    b"LIST",
    b"UIDL 2",
    b"RETR 1",
    b"TOP 2 10",
    b"",
    b"DELE 1",
    LINE_TOO_LONG,
    b"noop\r",
    b"RSET",
    b"QUIT",
]


def test_crlf_and_bare_lf_both_end_a_line_rfc1939_s3() -> None:
    assert split([b"STAT\r\nNOOP\nQUIT\r\n"]) == [b"STAT", b"NOOP", b"QUIT"]


def test_only_the_cr_before_the_lf_is_stripped() -> None:
    assert split([b"NO\rOP\r\r\n"]) == [b"NO\rOP\r"]


def test_an_unfinished_line_waits_for_its_end() -> None:
    splitter = LineSplitter()
    splitter.feed(b"STA")
    assert splitter.next_line() is None
    splitter.feed(b"T\r")
    assert splitter.next_line() is None
    splitter.feed(b"\n")
    assert splitter.next_line() == b"STAT"


def test_a_line_of_255_octets_with_its_crlf_is_accepted_rfc2449_s4() -> None:
    line = b"X" * 253
    assert split([line + b"\r\n"]) == [line]
    assert split([line + b"X\n"]) == [line + b"X"]  # 255 with a bare LF


def test_a_line_of_256_octets_is_too_long_rfc2449_s4() -> None:
    assert split([b"X" * 254 + b"\r\n"]) == [LINE_TOO_LONG]
    assert split([b"X" * 255 + b"\n"]) == [LINE_TOO_LONG]


def test_an_overlong_line_is_one_event_and_the_next_line_is_intact() -> None:
    assert split([b"NOOP\r\n" + b"X" * 1000 + b"\r\nSTAT\r\n"]) == [b"NOOP", LINE_TOO_LONG, b"STAT"]


def test_an_overlong_line_is_reported_once_its_head_exceeds_the_limit() -> None:
    splitter = LineSplitter()
    splitter.feed(b"X" * 255)
    assert splitter.next_line() == LINE_TOO_LONG
    assert splitter.next_line() is None
    splitter.feed(b"more of the same line\r\nSTAT\r\n")
    assert lines_of(splitter) == [b"STAT"]


def test_an_overlong_line_is_not_buffered_whatever_its_length_design_invariant_7() -> None:
    splitter = LineSplitter()
    for _ in range(256):  # 16 MiB without a line end
        splitter.feed(b"X" * 65536)
        assert splitter.buffered <= 255
    splitter.feed(b"\r\nSTAT\r\n")
    assert lines_of(splitter) == [LINE_TOO_LONG, b"STAT"]


def test_an_unreported_overlong_tail_is_reported_after_the_lines_before_it() -> None:
    splitter = LineSplitter()
    splitter.feed(b"STAT\r\n" + b"X" * 400)
    splitter.feed(b"XX\r\nNOOP\r\n")
    assert lines_of(splitter) == [b"STAT", LINE_TOO_LONG, b"NOOP"]


def test_discard_drops_every_buffered_octet_rfc2595_s4() -> None:
    splitter = LineSplitter()
    splitter.feed(b"USER evil\r\nPASS x\r\n" + b"X" * 300)
    splitter.discard()
    assert splitter.buffered == 0
    splitter.feed(b"CAPA\r\n")
    assert lines_of(splitter) == [b"CAPA"]


def test_the_limit_is_a_constructor_argument() -> None:
    assert split([b"abc\nabcd\n"], max_line=4) == [b"abc", LINE_TOO_LONG]
    with pytest.raises(ValueError, match="max_line"):
        LineSplitter(0)


def test_every_chunk_size_gives_the_same_lines() -> None:
    """From one octet at a time up to the whole input in one chunk."""
    for size in range(1, len(TRANSCRIPT) + 1):
        chunks = [TRANSCRIPT[at : at + size] for at in range(0, len(TRANSCRIPT), size)]
        assert split(chunks) == EXPECTED, size


def test_every_split_point_gives_the_same_lines() -> None:
    for at in range(len(TRANSCRIPT) + 1):
        assert split([TRANSCRIPT[:at], TRANSCRIPT[at:]]) == EXPECTED, at
