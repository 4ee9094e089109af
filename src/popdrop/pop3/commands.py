"""POP3 commands as a closed set of typed values, and the parser that builds them from one line.

Every argument is validated here, once (RFC 1939 §3: keywords case-insensitive, arguments
separated by spaces); the session receives either a well-formed command or a `CommandError`
whose message is safe to send after "-ERR ". A new command is a dataclass here, an
entry in `_PARSERS`, a row in `states.TRANSITIONS`, and a case in the session.

User names and passwords must be valid UTF-8. Credentials are set through the API and CLI as
Unicode text, so an octet string that is not UTF-8 can never match one; refusing it here means
every `str` the session hands on encodes to UTF-8 without error.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from popdrop.pop3 import pop4_commands as pop4
from popdrop.pop3.arguments import (
    MAX_NUMBER,
    MESSAGE_NUMBER,
    MISSING_NUMBER,
    TOO_MANY,
    CommandError,
    arguments,
    check_number,
)
from popdrop.pop3.arguments import number as parse_number
from popdrop.pop3.pop4_commands import Cfld, Copy, Dfld, Lfld, Mime, Move, Movf, Part, Renf, Sfld

# Re-exported: every command is `commands.<Name>` to the session and the tests.
__all__ = [
    "MAX_NUMBER",
    "Cfld",
    "CommandError",
    "Copy",
    "Dfld",
    "Lfld",
    "Mime",
    "Move",
    "Movf",
    "Part",
    "Renf",
    "Sfld",
]
# RFC 1939 §7: APOP's digest is the MD5 of timestamp + secret, as 32 hexadecimal digits.
_DIGEST_RE = re.compile(r"[0-9a-f]{32}")
# RFC 5646 language tags are letters, digits and hyphens (at most 35 octets in practice); "*"
# asks the server for its default (RFC 6856 §3).
_LANGUAGE_TAG_RE = re.compile(r"\*|[A-Za-z0-9]{1,8}(?:-[A-Za-z0-9]{1,8}){0,7}")


def _is_printable_name(name: str) -> bool:
    return bool(name) and all(ch.isprintable() and not ch.isspace() for ch in name)


@dataclass(frozen=True, slots=True)
class User:
    """USER name (RFC 1939 §7)."""

    name: str

    def __post_init__(self) -> None:
        if not _is_printable_name(self.name):
            raise ValueError("a user name is printable text without spaces")


@dataclass(frozen=True, slots=True)
class Pass:
    """PASS string (RFC 1939 §7): everything after the single space, spaces included."""

    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.password:
            raise ValueError("a password is not empty")


@dataclass(frozen=True, slots=True)
class Apop:
    """APOP name digest (RFC 1939 §7): the digest is 32 hexadecimal digits, kept lower-case."""

    name: str
    digest: str = field(repr=False)

    def __post_init__(self) -> None:
        if not _is_printable_name(self.name):
            raise ValueError("a user name is printable text without spaces")
        if not _DIGEST_RE.fullmatch(self.digest):
            raise ValueError("an APOP digest is 32 lower-case hexadecimal digits")


@dataclass(frozen=True, slots=True)
class Stat:
    """STAT (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class _OneOrEvery:
    """A command about one message, or, without a number, about every one."""

    number: int | None = None

    def __post_init__(self) -> None:
        if self.number is not None:
            check_number(self.number, 1)


@dataclass(frozen=True, slots=True)
class _One:
    """A command about one message."""

    number: int

    def __post_init__(self) -> None:
        check_number(self.number, 1)


@dataclass(frozen=True, slots=True)
class List(_OneOrEvery):
    """LIST [msg] (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class Uidl(_OneOrEvery):
    """UIDL [msg] (RFC 1939 §7)."""


@dataclass(frozen=True, slots=True)
class Retr(_One):
    """RETR msg (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class Top:
    """TOP msg n (RFC 1939 §7): the header block and the first n body lines."""

    number: int
    lines: int

    def __post_init__(self) -> None:
        check_number(self.number, 1)
        check_number(self.lines, 0)


@dataclass(frozen=True, slots=True)
class Dele(_One):
    """DELE msg (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class Rset:
    """RSET (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class Noop:
    """NOOP (RFC 1939 §5)."""


@dataclass(frozen=True, slots=True)
class Quit:
    """QUIT (RFC 1939 §4 in AUTHORIZATION, §6 in TRANSACTION)."""


@dataclass(frozen=True, slots=True)
class Capa:
    """CAPA (RFC 2449 §5)."""


@dataclass(frozen=True, slots=True)
class Stls:
    """STLS (RFC 2595 §4)."""


@dataclass(frozen=True, slots=True)
class Auth:
    """AUTH [mechanism [initial-response]] (RFC 5034 §4). Without a mechanism, the client asks
    for the list (as RFC 1734 clients still do); `initial_response` is already base64-decoded."""

    mechanism: str | None = None
    initial_response: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Utf8:
    """UTF8 (RFC 6856 §2): enter UTF-8 mode."""


@dataclass(frozen=True, slots=True)
class Lang:
    """LANG [tag] (RFC 6856 §3): list the languages, or choose one ("*" asks for the default)."""

    tag: str | None = None

    def __post_init__(self) -> None:
        if self.tag is not None and not _LANGUAGE_TAG_RE.fullmatch(self.tag):
            raise ValueError("a language tag is letters, digits and hyphens, or *")


Command = (
    User
    | Pass
    | Apop
    | Stat
    | List
    | Uidl
    | Retr
    | Top
    | Dele
    | Rset
    | Noop
    | Quit
    | Capa
    | Stls
    | Utf8
    | Lang
    | Auth
    # POP4 (docs/pop4.md): read only when the extension is on.
    | Lfld
    | Sfld
    | Cfld
    | Dfld
    | Renf
    | Movf
    | Move
    | Copy
    | Mime
    | Part
)

_Parser = Callable[[bytes], Command | CommandError]


def _without_arguments(command: Command) -> _Parser:
    def parse(rest: bytes) -> Command | CommandError:
        return TOO_MANY if arguments(rest) else command

    return parse


def _with_number(
    build: Callable[[int], Command], *, without: Command | CommandError = MISSING_NUMBER
) -> _Parser:
    """The parser of a command with one message number; `without` is what the bare command
    means (an error, unless the number is optional)."""

    def parse(rest: bytes) -> Command | CommandError:
        match arguments(rest):
            case []:
                return without
            case [argument]:
                number = parse_number(argument, MESSAGE_NUMBER, 1)
                return number if isinstance(number, CommandError) else build(number)
            case _:
                return TOO_MANY

    return parse


def _parse_top(rest: bytes) -> Command | CommandError:
    match arguments(rest):
        case []:
            return MISSING_NUMBER
        case [_]:
            return CommandError("Missing line count.")
        case [first, second]:
            number = parse_number(first, MESSAGE_NUMBER, 1)
            if isinstance(number, CommandError):
                return number
            lines = parse_number(second, "Line count", 0)
            return lines if isinstance(lines, CommandError) else Top(number, lines)
        case _:
            return TOO_MANY


def _user_name(argument: bytes) -> str | CommandError:
    try:
        name = argument.decode("utf-8")
    except UnicodeDecodeError:
        return CommandError("User name is not valid UTF-8.")
    if not _is_printable_name(name):
        return CommandError("User name contains invalid characters.")
    return name


def _parse_user(rest: bytes) -> Command | CommandError:
    match arguments(rest):
        case []:
            return CommandError("Missing user name.")
        case [argument]:
            name = _user_name(argument)
            return name if isinstance(name, CommandError) else User(name)
        case _:
            return TOO_MANY


def _parse_apop(rest: bytes) -> Command | CommandError:
    match arguments(rest):
        case [] | [_]:
            return CommandError("APOP takes a user name and a digest.")
        case [argument, digest]:
            name = _user_name(argument)
            if isinstance(name, CommandError):
                return name
            text = digest.decode("ascii", "replace").lower()
            if not _DIGEST_RE.fullmatch(text):
                return CommandError("The digest is not 32 hexadecimal digits.")
            return Apop(name, text)
        case _:
            return TOO_MANY


def _parse_lang(rest: bytes) -> Command | CommandError:
    match arguments(rest):
        case []:
            return Lang()
        case [argument]:
            tag = argument.decode("ascii", "replace")
            if not _LANGUAGE_TAG_RE.fullmatch(tag):
                return CommandError("Invalid language tag.")
            return Lang(tag)
        case _:
            return TOO_MANY


def _parse_pass(rest: bytes) -> Command | CommandError:
    if not rest:
        return CommandError("Missing password.")
    try:
        return Pass(rest.decode("utf-8"))
    except UnicodeDecodeError:
        return CommandError("Password is not valid UTF-8.")


# RFC 4422 §3.1: a mechanism name is 1 to 20 upper-case letters, digits, hyphens or underscores.
_MECHANISM_RE = re.compile(rb"[A-Za-z0-9_-]{1,20}")


def decode_sasl(text: bytes) -> bytes | None:
    """A SASL response or initial response: base64, or "=" for an empty one (RFC 5034 §4).
    None when it is not strict base64."""
    if text == b"=":
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return None


def _parse_auth(rest: bytes) -> Command | CommandError:
    match arguments(rest):
        case []:
            return Auth()
        case [name, *initial] if len(initial) <= 1:
            if not _MECHANISM_RE.fullmatch(name):
                return CommandError("Invalid mechanism name.")
            response = decode_sasl(initial[0]) if initial else None
            if initial and response is None:
                return CommandError("Invalid base64 in the initial response.")
            return Auth(name.decode("ascii").upper(), response)
        case _:
            return TOO_MANY


_PARSERS: dict[bytes, _Parser] = {
    b"USER": _parse_user,
    b"PASS": _parse_pass,
    b"APOP": _parse_apop,
    b"STAT": _without_arguments(Stat()),
    b"LIST": _with_number(List, without=List()),
    b"UIDL": _with_number(Uidl, without=Uidl()),
    b"RETR": _with_number(Retr),
    b"TOP": _parse_top,
    b"DELE": _with_number(Dele),
    b"RSET": _without_arguments(Rset()),
    b"NOOP": _without_arguments(Noop()),
    b"QUIT": _without_arguments(Quit()),
    b"CAPA": _without_arguments(Capa()),
    b"STLS": _without_arguments(Stls()),
    b"UTF8": _without_arguments(Utf8()),
    b"LANG": _parse_lang,
    b"AUTH": _parse_auth,
}


_WITH_POP4: dict[bytes, _Parser] = {**_PARSERS, **pop4.PARSERS}

# Lines of the maildrop's commands, whose only arguments are message numbers, are parsed once per
# process: clients repeat the same few (every poll's STAT and UIDL, a pipelined window's LIST n),
# and parsing was a third of the core's CPU per pipelined command (docs/performance.md). The
# commands are immutable and mean the same with POP4 on or off. Never kept: a line with a secret
# (USER, PASS, APOP, AUTH), an error, and any line past the first MEMO_LINES.
_MEMO_VERBS: Final = frozenset(
    {b"STAT", b"LIST", b"UIDL", b"RETR", b"TOP", b"DELE", b"RSET", b"NOOP", b"QUIT", b"CAPA"}
)
MEMO_LINES: Final = 4096
_parsed: dict[bytes, Command] = {}


def parse_command(line: bytes, *, pop4: bool = False) -> Command | CommandError:
    """Parse one command line (without its CRLF). Never raises, whatever the bytes. With `pop4`
    off, POP4's verbs are as unknown as any other (docs/pop4.md)."""
    known = _parsed.get(line)
    if known is not None:
        return known
    if not line:
        return CommandError("Empty command.")
    verb, _, rest = line.partition(b" ")
    verb = verb.upper()
    parse = (_WITH_POP4 if pop4 else _PARSERS).get(verb)
    if parse is None:
        return CommandError("Unknown command.")
    command = parse(rest)
    if verb in _MEMO_VERBS and not isinstance(command, CommandError) and len(_parsed) < MEMO_LINES:
        _parsed[line] = command
    return command
