"""One normalisation and validation for addresses and passwords, wherever they enter (issue 15):
PRECIS-style (RFC 8264, RFC 8265 OpaqueString for passwords), within what every login method's
255-octet command line can carry (RFC 2449 §4)."""

from __future__ import annotations

import pytest

from popdrop.model import (
    MAX_ADDRESS_OCTETS,
    MAX_PASSWORD_OCTETS,
    InvalidAddress,
    InvalidPassword,
    normalize_address,
    normalize_password,
)

# RFC 2449 §4: a command line is at most 255 octets with its CRLF.
LINE = 255


def test_the_longest_address_fits_user_and_apop_lines_rfc2449_s4() -> None:
    local = "a" * 64
    longest = local + "@" + "d" * (MAX_ADDRESS_OCTETS - 65 - 5) + ".test"
    assert normalize_address(longest) == longest
    assert len(f"USER {longest}\r\n".encode()) <= LINE
    assert len(f"APOP {longest} {'0' * 32}\r\n".encode()) <= LINE
    with pytest.raises(InvalidAddress, match="octets"):
        normalize_address("b" + longest)


def test_the_longest_password_fits_a_pass_line_rfc2449_s4() -> None:
    longest = "é" * (MAX_PASSWORD_OCTETS // 2)  # two octets each in UTF-8
    assert normalize_password(longest) == longest
    assert len(f"PASS {longest}\r\n".encode()) <= LINE
    with pytest.raises(InvalidPassword, match=f"{MAX_PASSWORD_OCTETS} octets"):
        normalize_password(longest + "xx")


def test_addresses_are_nfc_so_one_mailbox_has_one_spelling_rfc8264() -> None:
    assert normalize_address("Jo\u0308rg@Example.test") == "j\u00f6rg@example.test"


@pytest.mark.parametrize(
    "text",
    [
        "ali\u200bce@example.test",  # zero-width space
        "ali\u00adce@example.test",  # soft hyphen
        "alice\u2060@example.test",  # word joiner
        "ali\u202ece@example.test",  # right-to-left override
        "ali\x7fce@example.test",
        "ali\u00a0ce@example.test",  # no-break space
        "\U000e0041lice@example.test",  # a tag character
    ],
    ids=["zwsp", "shy", "wj", "rlo", "del", "nbsp", "tag"],
)
def test_addresses_with_control_or_invisible_characters_are_refused(text: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_address(text)


@pytest.mark.parametrize(
    "text",
    [
        "p\u0430ypal@example.test",  # a Cyrillic "a" among Latin letters
        "\u03bfmega@example.test",  # a Greek "o" before Latin letters
    ],
)
def test_mixed_script_local_parts_are_refused_as_look_alikes_uts39(text: str) -> None:
    with pytest.raises(InvalidAddress, match="script"):
        normalize_address(text)


@pytest.mark.parametrize(
    "text",
    [
        "jörg.müller@example.test",
        "иван@example.test",
        "山田たろう@example.test",  # Han and Hiragana: one Japanese name
        "kim.민수@example.test",  # Latin with Hangul: UTS 39 "highly restrictive" allows it
        "user+tag-2024@example.test",
    ],
)
def test_single_script_and_usual_combinations_are_accepted(text: str) -> None:
    assert normalize_address(text) == text.lower()


def test_passwords_are_nfc_with_unicode_spaces_as_ascii_space_rfc8265_s4_2() -> None:
    assert normalize_password("cafe\u0301\u00a0au lait") == "caf\u00e9 au lait"


@pytest.mark.parametrize(
    "password", ["", "tab\there", "new\nline", "zero\u200bwidth", "nul\x00"], ids=repr
)
def test_passwords_that_are_empty_or_hold_controls_or_invisibles_are_refused(
    password: str,
) -> None:
    with pytest.raises(InvalidPassword):
        normalize_password(password)
