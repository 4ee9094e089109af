"""The command parser: a closed set of typed commands, validated once (RFC 1939 §3, §5, §7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from popdrop.pop3 import commands as c
from popdrop.pop3.commands import CommandError, parse_command
from popdrop.pop3.lines import LineSplitter, LineTooLong


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"USER alice@example.test", c.User("alice@example.test")),
        (b"PASS secret", c.Pass("secret")),
        (b"STAT", c.Stat()),
        (b"LIST", c.List()),
        (b"LIST 3", c.List(3)),
        (b"UIDL", c.Uidl()),
        (b"UIDL 2", c.Uidl(2)),
        (b"RETR 1", c.Retr(1)),
        (b"TOP 1 0", c.Top(1, 0)),
        (b"TOP 2 10", c.Top(2, 10)),
        (b"DELE 4", c.Dele(4)),
        (b"RSET", c.Rset()),
        (b"NOOP", c.Noop()),
        (b"QUIT", c.Quit()),
        (b"CAPA", c.Capa()),
        (b"STLS", c.Stls()),
        (
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb",
            c.Apop("mrose", "c4c9334bac560ecc979e58001b3e22fb"),
        ),
        (
            b"APOP mrose C4C9334BAC560ECC979E58001B3E22FB",
            c.Apop("mrose", "c4c9334bac560ecc979e58001b3e22fb"),
        ),
        (b"UTF8", c.Utf8()),
        (b"LANG", c.Lang()),
        (b"LANG en-GB", c.Lang("en-GB")),
        (b"LANG *", c.Lang("*")),
    ],
)
def test_each_command_parses_to_its_typed_value(line: bytes, command: c.Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize("verb", [b"stat", b"Stat", b"sTaT"])
def test_keywords_are_case_insensitive_rfc1939_s3(verb: bytes) -> None:
    assert parse_command(verb) == c.Stat()


def test_repeated_and_trailing_spaces_between_arguments_are_tolerated() -> None:
    assert parse_command(b"TOP  1   5 ") == c.Top(1, 5)
    assert parse_command(b"STAT ") == c.Stat()


def test_message_numbers_may_have_leading_zeros() -> None:
    assert parse_command(b"RETR 0000000000000002") == c.Retr(2)


def test_the_largest_message_number_is_2_to_the_31_minus_1() -> None:
    assert parse_command(b"RETR 2147483647") == c.Retr(2**31 - 1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"", "Empty command."),
        (b"XTND", "Unknown command."),
        (b" STAT", "Unknown command."),
        (b"STAT\t", "Unknown command."),
        (b"\xff\xfe", "Unknown command."),
        (b"STAT 1", "Too many arguments."),
        (b"QUIT now", "Too many arguments."),
        (b"LIST 1 2", "Too many arguments."),
        (b"RETR", "Missing message number."),
        (b"DELE", "Missing message number."),
        (b"RETR 1 2", "Too many arguments."),
        (b"RETR one", "Message number is not a number."),
        (b"RETR 1x", "Message number is not a number."),
        (b"RETR +1", "Message number is not a number."),
        (b"RETR \xd9\xa1", "Message number is not a number."),  # ARABIC-INDIC DIGIT ONE
        (b"RETR 0", "Message number must be at least 1."),
        (b"LIST 000", "Message number must be at least 1."),
        (b"RETR -1", "Message number must not be negative."),
        (b"RETR 2147483648", "Message number is too large."),
        (b"UIDL 99999999999", "Message number is too large."),
        (b"TOP", "Missing message number."),
        (b"TOP 1", "Missing line count."),
        (b"TOP 1 2 3", "Too many arguments."),
        (b"TOP 0 1", "Message number must be at least 1."),
        (b"TOP 1 -1", "Line count must not be negative."),
        (b"TOP 1 x", "Line count is not a number."),
        (b"TOP 1 2147483648", "Line count is too large."),
        (b"USER", "Missing user name."),
        (b"USER alice bob", "Too many arguments."),
        (b"USER al\x00ice", "User name contains invalid characters."),
        (b"USER al\tice", "User name contains invalid characters."),
        (b"USER \xff", "User name is not valid UTF-8."),
        (b"PASS", "Missing password."),
        (b"PASS ", "Missing password."),
        (b"PASS \xc3\x28", "Password is not valid UTF-8."),
        (b"APOP", "APOP takes a user name and a digest."),
        (b"APOP mrose", "APOP takes a user name and a digest."),
        (b"APOP mrose c4c9 x", "Too many arguments."),
        (b"APOP mrose c4c9334bac560ecc979e58001b3e22f", "The digest is not 32 hexadecimal digits."),
        (
            b"APOP mrose g4c9334bac560ecc979e58001b3e22fb",
            "The digest is not 32 hexadecimal digits.",
        ),
        (b"APOP \xff c4c9334bac560ecc979e58001b3e22fb", "User name is not valid UTF-8."),
        (b"UTF8 now", "Too many arguments."),
        (b"LANG en fr", "Too many arguments."),
        (b"LANG e_n", "Invalid language tag."),
        (b"LANG \xc3\xa9", "Invalid language tag."),
    ],
)
def test_bad_arguments_get_a_specific_error(line: bytes, message: str) -> None:
    assert parse_command(line) == CommandError(message)


def test_a_huge_message_number_is_refused_without_building_it() -> None:
    assert parse_command(b"RETR " + b"9" * 240) == CommandError("Message number is too large.")


@pytest.mark.parametrize(
    "password", ["two words", " leading", "trailing ", "  ", "tab\tand:colon", "pässwörd"]
)
def test_pass_takes_the_rest_of_the_line_after_one_space_rfc1939_s7(password: str) -> None:
    assert parse_command(b"PASS " + password.encode()) == c.Pass(password)


def test_user_accepts_a_utf8_name() -> None:
    assert parse_command("USER jörg@example.test".encode()) == c.User("jörg@example.test")


def test_a_password_never_appears_in_a_repr() -> None:
    assert "hunter2" not in repr(parse_command(b"PASS hunter2"))


@pytest.mark.parametrize(
    "build",
    [
        lambda: c.Retr(0),
        lambda: c.Dele(-1),
        lambda: c.List(2**31),
        lambda: c.Uidl(0),
        lambda: c.Top(1, -1),
        lambda: c.Top(0, 1),
        lambda: c.User(""),
        lambda: c.User("a b"),
        lambda: c.Pass(""),
    ],
)
def test_invalid_commands_cannot_be_constructed(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


@given(st.binary(max_size=300))
def test_any_bytes_parse_to_a_command_or_an_error_never_an_exception(line: bytes) -> None:
    result = parse_command(line)
    assert isinstance(result, (CommandError, *get_args(c.Command)))
    if isinstance(result, CommandError):
        assert result.message.isascii() and result.message.isprintable()


# A realistic dialogue, pipelined, as a client might send it; and what each line parses to.
DIALOGUE = (
    b"CAPA\r\nuser alice@example.test\r\nPASS open sesame \r\nSTAT\r\nLIST\r\nLIST 2\r\n"
    b"UIDL\r\nUIDL 1\nRETR 1\r\nTOP 2 0\r\nDELE 1\r\nDELE 0\r\nRSET\r\nNOOP\r\nXTND\r\n\r\n"
    + b"LIST "
    + b"9" * 300
    + b"\r\nSTLS\r\nutf8\r\nLANG\r\nLang en-GB\r\n"
    + b"APOP alice@example.test C4C9334BAC560ECC979E58001B3E22FB\r\nQUIT\r\n"
)
PARSED: list[c.Command | CommandError | LineTooLong] = [
    c.Capa(),
    c.User("alice@example.test"),
    c.Pass("open sesame "),
    c.Stat(),
    c.List(),
    c.List(2),
    c.Uidl(),
    c.Uidl(1),
    c.Retr(1),
    c.Top(2, 0),
    c.Dele(1),
    CommandError("Message number must be at least 1."),
    c.Rset(),
    c.Noop(),
    CommandError("Unknown command."),
    CommandError("Empty command."),
    LineTooLong(),
    c.Stls(),
    c.Utf8(),
    c.Lang(),
    c.Lang("en-GB"),
    c.Apop("alice@example.test", "c4c9334bac560ecc979e58001b3e22fb"),
    c.Quit(),
]


def parse_chunks(chunks: list[bytes]) -> list[c.Command | CommandError | LineTooLong]:
    splitter = LineSplitter()
    out: list[c.Command | CommandError | LineTooLong] = []
    for chunk in chunks:
        splitter.feed(chunk)
        while (line := splitter.next_line()) is not None:
            out.append(line if isinstance(line, LineTooLong) else parse_command(line))
    return out


def test_splitter_and_parser_agree_at_every_chunk_size() -> None:
    """One octet at a time, up to the whole dialogue in one chunk."""
    for size in range(1, len(DIALOGUE) + 1):
        chunks = [DIALOGUE[at : at + size] for at in range(0, len(DIALOGUE), size)]
        assert parse_chunks(chunks) == PARSED, size


def test_splitter_and_parser_agree_at_every_split_point() -> None:
    for at in range(len(DIALOGUE) + 1):
        assert parse_chunks([DIALOGUE[:at], DIALOGUE[at:]]) == PARSED, at


def test_a_repeated_maildrop_command_line_parses_once_and_the_memo_is_bounded() -> None:
    """The parse memo (docs/performance.md, "Pipelined commands") gives the same command again,
    never keeps a line with a secret or an error, and stops growing at MEMO_LINES."""
    first = parse_command(b"LIST 7")
    assert parse_command(b"LIST 7") is first == c.List(7)
    assert parse_command(b"list 7", pop4=True) == c.List(7)  # the same with POP4 on
    for line in (b"PASS secret-memo", b"USER memo@example.test", b"APOP a b", b"RETR 0"):
        parse_command(line)
        assert line not in c._parsed
    for n in range(1, c.MEMO_LINES + 100):
        assert parse_command(b"DELE %d" % n) == c.Dele(n)
    assert len(c._parsed) == c.MEMO_LINES
