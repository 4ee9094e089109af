"""The MIME structure parser behind POP4's MIME and PART (`popdrop.mime.ranges`, docs/pop4.md):
parts numbered as IMAP numbers them (RFC 3501 §6.4.5), each a byte range of the stored message,
found in one pass whatever the chunk sizes, in bounded memory."""

from __future__ import annotations

import pytest

from popdrop.mime.ranges import MAX_PARTS, MimeStructure, is_part_id, parse_structure

NESTED = (
    b"From: a@example.test\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
    b"This is the preamble.\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
    b"--inner\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
    b"--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b'Content-Type: image/png\r\nContent-Disposition: attachment; filename="dot.png"\r\n\r\n'
    b"PNGDATA\r\n"
    b"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
    b'Subject: inner\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
    b"--x\r\n\r\nz\r\n--x--\r\n"
    b"--outer--\r\nepilogue\r\n"
)


def _table(structure: MimeStructure, data: bytes) -> list[tuple[str, str, bytes, str]]:
    return [(p.id, p.content_type, data[p.start : p.end], p.filename) for p in structure.parts]


def test_a_message_that_is_not_multipart_is_the_one_part_1_rfc3501_s6_4_5() -> None:
    data = b"Subject: hi\r\n\r\nbody line\r\n"
    assert _table(parse_structure([data]), data) == [("1", "text/plain", b"body line\r\n", "")]


def test_nested_parts_are_numbered_as_imap_numbers_them_rfc3501_s6_4_5() -> None:
    assert _table(parse_structure([NESTED]), NESTED) == [
        (
            "1",
            "multipart/alternative",
            _between(b'"inner"\r\n\r\n', b"--outer\r\nContent-Type: image"),
            "",
        ),
        ("1.1", "text/plain", b"plain text\r\n", ""),
        ("1.2", "text/html", b"<p>html</p>\r\n", ""),
        ("2", "image/png", b"PNGDATA\r\n", "dot.png"),
        ("3", "message/rfc822", _between(b"rfc822\r\n\r\n", b"--outer--"), ""),
    ]


def _between(after: bytes, before: bytes) -> bytes:
    start = NESTED.index(after) + len(after)
    return NESTED[start : NESTED.index(before, start)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000])
def test_every_chunk_size_finds_the_same_ranges(size: int) -> None:
    chunks = [NESTED[i : i + size] for i in range(0, len(NESTED), size)]
    assert parse_structure(chunks) == parse_structure([NESTED])


def test_a_message_cut_short_ends_its_open_parts_at_its_end() -> None:
    cut = NESTED[: NESTED.index(b"PNGDATA") + 3]
    parts = parse_structure([cut]).parts
    assert parts[-1].id == "2" and parts[-1].end == len(cut)


def test_a_message_with_more_than_max_parts_is_listed_in_part() -> None:
    body = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(MAX_PARTS + 5))
    data = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"
    structure = parse_structure([data])
    assert len(structure.parts) == MAX_PARTS
    assert not structure.complete


@pytest.mark.parametrize(
    ("text", "valid"),
    [("1", True), ("2.10.3", True), ("0", False), ("1.", False), ("a", False), ("1..2", False)],
)
def test_part_ids_are_dotted_positive_numbers(text: str, valid: bool) -> None:
    assert is_part_id(text) is valid
