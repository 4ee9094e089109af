"""Dot-stuffing across chunk boundaries (RFC 1939 §3) and TOP's cut (RFC 1939 §7), checked
against an obviously correct reference on every short message at every split."""

from __future__ import annotations

import itertools

import pytest

from popdrop.pop3.dotstuff import Stuffer


def reference(message: bytes, top_lines: int | None) -> bytes:
    """Line by line, as RFC 1939 reads: a line ends at LF (the last may lack one)."""
    lines = [line + b"\n" for line in message.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    if top_lines is not None:
        for index, line in enumerate(lines):
            if line in (b"\n", b"\r\n"):  # the empty line that ends the header block
                lines = lines[: index + 1 + top_lines]
                break
    out = b"".join(b"." + line if line.startswith(b".") else line for line in lines)
    return out + (b".\r\n" if out == b"" or out.endswith(b"\r\n") else b"\r\n.\r\n")


def stuffed(chunks: list[bytes] | tuple[bytes, ...], top_lines: int | None = None) -> bytes:
    stuffer = Stuffer(top_lines)
    return b"".join([stuffer.feed(chunk) for chunk in chunks]) + stuffer.finish()


def test_a_line_starting_with_a_dot_gets_one_more_rfc1939_s3() -> None:
    assert stuffed([b"a\r\n.b\r\n..c\r\n"]) == b"a\r\n..b\r\n...c\r\n.\r\n"


def test_the_first_octet_of_the_message_starts_a_line() -> None:
    assert stuffed([b".\r\n"]) == b"..\r\n.\r\n"


def test_a_dot_after_a_chunk_ending_in_lf_is_stuffed() -> None:
    assert stuffed([b"a\r\n", b".b\r\n"]) == b"a\r\n..b\r\n.\r\n"


def test_a_dot_after_a_chunk_ending_in_cr_is_stuffed() -> None:
    assert stuffed([b"a\r", b"\n.b\r\n"]) == b"a\r\n..b\r\n.\r\n"


def test_a_dot_inside_a_line_is_left_alone() -> None:
    assert stuffed([b"a.", b".b\r\n"]) == b"a..b\r\n.\r\n"


def test_the_empty_message_is_just_the_terminator() -> None:
    assert stuffed([]) == b".\r\n"
    assert stuffed([b""]) == b".\r\n"


def test_a_message_without_a_final_crlf_gets_one_before_the_terminator() -> None:
    assert stuffed([b"a"]) == b"a\r\n.\r\n"
    assert stuffed([b"a\r"]) == b"a\r\r\n.\r\n"
    assert stuffed([b"a\n"]) == b"a\n\r\n.\r\n"


def test_a_message_ending_in_crlf_split_across_chunks_needs_no_extra_crlf() -> None:
    assert stuffed([b"a\r", b"\n"]) == b"a\r\n.\r\n"


MESSAGE = b"From: a\r\nSubject: b\r\n\r\n.one\r\ntwo\r\nthree\r\n"


@pytest.mark.parametrize(
    ("top_lines", "expected"),
    [
        (0, b"From: a\r\nSubject: b\r\n\r\n.\r\n"),
        (1, b"From: a\r\nSubject: b\r\n\r\n..one\r\n.\r\n"),
        (3, b"From: a\r\nSubject: b\r\n\r\n..one\r\ntwo\r\nthree\r\n.\r\n"),
        (9, b"From: a\r\nSubject: b\r\n\r\n..one\r\ntwo\r\nthree\r\n.\r\n"),
    ],
)
def test_top_sends_the_headers_and_at_most_n_body_lines_rfc1939_s7(
    top_lines: int, expected: bytes
) -> None:
    assert stuffed([MESSAGE], top_lines) == expected


def test_top_of_a_message_without_an_empty_line_is_the_whole_message_rfc1939_s7() -> None:
    assert stuffed([b"From: a\r\nSubject: b\r\n"], 0) == b"From: a\r\nSubject: b\r\n.\r\n"


def test_done_turns_true_once_top_has_sent_all_it_needs() -> None:
    stuffer = Stuffer(top_lines=1)
    assert stuffer.feed(b"From: a\r\n\r\nline one\r") == b"From: a\r\n\r\nline one\r"
    assert not stuffer.done
    assert stuffer.feed(b"\nline two\r\n") == b"\n"
    assert stuffer.done
    assert stuffer.feed(b"more\r\n") == b""
    assert stuffer.finish() == b".\r\n"


def test_retr_is_never_done_before_the_end() -> None:
    stuffer = Stuffer()
    stuffer.feed(MESSAGE)
    assert not stuffer.done


def test_a_negative_line_count_is_refused() -> None:
    with pytest.raises(ValueError, match="top_lines"):
        Stuffer(-1)


def test_a_large_chunk_is_stuffed_in_one_call() -> None:
    body = b".dot line\r\nplain line\r\n" * 50_000
    assert stuffed([body]) == body.replace(b".dot", b"..dot") + b".\r\n"


# Every message of up to 8 octets over the octets that matter, at every split into two chunks
# and one octet at a time: 8.3 million Stuffer runs in all (about 22 s), so the loop stays lean.
ALPHABET = b".\r\na"
MESSAGES = [bytes(octets) for n in range(9) for octets in itertools.product(ALPHABET, repeat=n)]


@pytest.mark.parametrize(
    "top_lines", [None, *range(10)], ids=lambda t: f"top{t}" if t is not None else "retr"
)
def test_every_short_message_at_every_split_matches_the_reference(top_lines: int | None) -> None:
    failures = []
    for message in MESSAGES:
        expected = reference(message, top_lines)
        splits: list[tuple[bytes, ...]] = [(message,)]
        splits += [(message[:at], message[at:]) for at in range(1, len(message))]
        if len(message) > 2:
            splits.append(tuple(message[at : at + 1] for at in range(len(message))))
        failures += [s for s in splits if stuffed(s, top_lines) != expected]
    assert failures == []
