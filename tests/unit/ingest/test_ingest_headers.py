"""Ingest's pure parts: the header block's size, the summary headers, and unique ids."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from popdrop.ingest import (
    SUMMARY_LIMIT,
    header_block_size,
    new_message_id,
    parse_summary,
    unique_id,
)
from popdrop.model import Summary, is_valid_uid

_JUNK_PIECES = [
    b"From: ",
    b"To: ",
    b"Subject: ",
    b"Date: ",
    b"Message-ID: ",
    b"\r\n",
    b"\r\n ",
    b"=?utf-8?q?",
    b"=?iso-8859-1?b?",
    b"?=",
    b"<",
    b">",
    b"@",
    b"\xff",
    b"\xc3",
    b'"',
]


@pytest.mark.parametrize(
    ("head", "size"),
    [
        (b"Subject: x\r\n\r\nbody\r\n", 14),
        (b"Subject: x\r\nTo: y\r\n\r\n\r\nbody starts with a blank line\r\n", 21),
        (b"\r\nno headers at all\r\n", 2),  # RFC 5322 §2.1: the header section may be empty
        (b"Subject: x\n\nbare LF\n", 12),
        (b"Subject: x\r\nTo: y\r\n", None),  # no body, no separator: all header
        (b"Subject: x\r\n\r", None),  # the separator is cut by the read
        (b"", None),
    ],
)
def test_the_header_block_ends_with_the_first_empty_line(head: bytes, size: int | None) -> None:
    assert header_block_size(head) == size


def test_summary_headers_are_read_and_decoded() -> None:
    block = (
        b"Received: from x by y\r\n"
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
        b"To: alice@example.test,\r\n bob@example.test\r\n"
        b"Subject: =?iso-8859-1?q?caf=E9?= time\r\n"
        b"Date: Fri, 1 Mar 2024 12:00:00 +0000\r\n"
        b"Message-ID: <abc@example.org>\r\n"
        b"\r\n"
    )

    assert parse_summary(block) == Summary(
        sender="Jürgen <j@example.org>",
        to="alice@example.test, bob@example.test",  # unfolded
        subject="café time",
        date="Fri, 1 Mar 2024 12:00:00 +0000",
        message_id="<abc@example.org>",
    )


def test_raw_utf8_headers_are_read_as_utf8() -> None:
    """RFC 6532: internationalised headers carry UTF-8 without encoded-words."""
    assert parse_summary("Subject: Grüße 👋\r\n\r\n".encode()).subject == "Grüße 👋"


def test_eight_bit_junk_and_controls_never_break_the_summary() -> None:
    block = (
        b"From: \xff\xfe\x80 junk <a@b.c>\r\n"
        b"Subject: bell\x07 nul\x00 esc\x1b[31m end\r\n"
        b"Message-ID: <<<@@>>>\r\n"
        b"To: =?bogus-charset?q?x?= =?utf-8?b?!!!?=\r\n"
        b"Date: \xc3\x28 broken utf-8\r\n"
        b"X-No-Colon-Here\r\n"
        b"\r\n"
    )

    summary = parse_summary(block)

    assert summary.sender.endswith("junk <a@b.c>") and "\ufffd" in summary.sender
    assert summary.subject == "bell nul esc [31m end"
    assert summary.message_id == "<<<@@>>>"
    assert summary.to  # whatever the decoder made of it, as text
    assert summary.date.endswith("( broken utf-8")
    for value in (summary.sender, summary.to, summary.subject, summary.date):
        assert not any(ord(char) < 0x20 for char in value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_JUNK_PIECES) | st.binary(max_size=40), max_size=30))
def test_any_bytes_make_a_summary_of_bounded_printable_text(pieces: list[bytes]) -> None:
    """Whatever a sender puts in the header block, ingest records something and never fails."""
    summary = parse_summary(b"".join(pieces))

    for value in (summary.sender, summary.to, summary.subject, summary.date, summary.message_id):
        assert len(value) <= SUMMARY_LIMIT
        assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)


def test_summary_values_are_bounded() -> None:
    block = b"Subject: " + b"x" * 100_000 + b"\r\nTo: " + b"a@b.c, " * 20_000 + b"\r\n\r\n"

    summary = parse_summary(block)

    assert len(summary.subject) == SUMMARY_LIMIT
    assert len(summary.to) <= SUMMARY_LIMIT


def test_missing_summary_headers_are_empty() -> None:
    assert parse_summary(b"X-Other: 1\r\n\r\n") == Summary()
    assert parse_summary(b"") == Summary()


def test_an_ses_message_id_is_its_own_unique_id() -> None:
    assert unique_id("o3vrnil0e2ic28trm7dfhrc2v0cnbeccl4nbp0g1") == (
        "o3vrnil0e2ic28trm7dfhrc2v0cnbeccl4nbp0g1"
    )


@pytest.mark.parametrize("message_id", ["has space", "x" * 71, "tab\there", "ünïcode", "\ud800"])
def test_other_message_ids_get_a_stable_derived_unique_id(message_id: str) -> None:
    """RFC 1939 §7: 1 to 70 characters in 0x21..0x7E; the same message id maps to the same uid,
    so a replayed event still finds its marker (DESIGN invariant 5)."""
    uid = unique_id(message_id)

    assert is_valid_uid(uid)
    assert uid == unique_id(message_id)
    assert uid != unique_id(message_id + "-other")


def test_new_message_ids_are_unique_ses_like_and_sort_by_time() -> None:
    first = new_message_id()
    time.sleep(0.002)
    ids = [new_message_id() for _ in range(1000)]

    assert len(set(ids)) == 1000
    assert all(len(i) == 32 and i.isalnum() and i == i.lower() and is_valid_uid(i) for i in ids)
    assert all(first < later for later in ids)
