"""Part ids as IMAP numbers them (RFC 3501 §6.4.5 BODY[section]), shared with the POP4 work: a
single-part message's body is 1; a multipart's children 1, 2, ...; an attached message's parts
under its own id; a root multipart is TEXT."""

from __future__ import annotations

from popdrop.mime import structure


def ids(data: bytes) -> list[tuple[str, str]]:
    message = structure.parse(data)
    return [(part.id, part.content_type) for part in structure.parts(message)]


def test_a_single_part_message_is_part_1() -> None:
    assert ids(b"Subject: x\r\n\r\nbody\r\n") == [("1", "text/plain")]


def test_rfc_3501_6_4_5_numbering_of_nested_multiparts_and_attached_messages() -> None:
    """The RFC's own example, cut down: 1, 2, 3 (message/rfc822) with 3.TEXT, 3.1, 3.2, and 4
    (multipart) with 4.1, 4.2."""
    inner = (
        b'Content-Type: multipart/alternative; boundary="i"\r\n\r\n'
        b"--i\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        b"--i\r\nContent-Type: text/richtext\r\n\r\nrich\r\n--i--\r\n"
    )
    data = (
        b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
        b"--o\r\nContent-Type: text/plain\r\n\r\none\r\n"
        b"--o\r\nContent-Type: application/octet-stream\r\n\r\ntwo\r\n"
        b"--o\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n"
        b'--o\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\nContent-Type: image/gif\r\n\r\nGIF\r\n"
        b"--m\r\nContent-Type: text/plain\r\n\r\nfour-two\r\n--m--\r\n"
        b"--o--\r\n"
    )
    assert ids(data) == [
        ("TEXT", "multipart/mixed"),
        ("1", "text/plain"),
        ("2", "application/octet-stream"),
        ("3", "message/rfc822"),
        ("3.TEXT", "multipart/alternative"),
        ("3.1", "text/plain"),
        ("3.2", "text/richtext"),
        ("4", "multipart/mixed"),
        ("4.1", "image/gif"),
        ("4.2", "text/plain"),
    ]
    message = structure.parse(data)
    found = structure.find(message, "4.2")
    assert found is not None and structure.content(found) == b"four-two"


def test_an_undecodable_header_is_shown_as_sent() -> None:
    message = structure.parse(b"Subject: =?x-unknown?q?abc?= tail\r\n\r\nb\r\n")
    [subject] = structure.headers(message)
    assert subject.name == "Subject" and "tail" in subject.value
