"""POP4's commands (docs/pop4.md) as typed values, and their parsers. Every one is read in the
TRANSACTION state only, and only with the extension on (`commands.parse_command(pop4=True)`).

Folder names are UTF-8 text without controls or spaces, so a name is one argument; they are
validated here by the same rule every interface applies (`popdrop.folders.folder_name`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from popdrop.folders import SEPARATOR, FolderError, folder_name
from popdrop.mime.ranges import is_part_id
from popdrop.pop3.arguments import (
    MESSAGE_NUMBER,
    MISSING_NUMBER,
    TOO_MANY,
    CommandError,
    arguments,
    check_number,
    number,
)


def _check_name(name: str, *, parent: bool = False) -> None:
    if not (parent and name == SEPARATOR) and folder_name(name) != name:
        raise ValueError("a folder name is in NFC")


@dataclass(frozen=True, slots=True)
class Lfld:
    """LFLD: list the folders, one per line, with their messages and octets."""


@dataclass(frozen=True, slots=True)
class _Named:
    name: str

    def __post_init__(self) -> None:
        _check_name(self.name)


@dataclass(frozen=True, slots=True)
class Sfld(_Named):
    """SFLD name: select a folder; message numbers then refer to it."""


@dataclass(frozen=True, slots=True)
class Cfld(_Named):
    """CFLD name: create a folder (its parent must exist)."""


@dataclass(frozen=True, slots=True)
class Dfld(_Named):
    """DFLD name: delete an empty folder without subfolders."""


@dataclass(frozen=True, slots=True)
class Renf:
    """RENF old new: rename a folder (and the folders under it)."""

    old: str
    new: str

    def __post_init__(self) -> None:
        _check_name(self.old)
        _check_name(self.new)


@dataclass(frozen=True, slots=True)
class Movf:
    """MOVF name new-parent: move a folder under another, or to the top level with "/"."""

    name: str
    parent: str

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_name(self.parent, parent=True)


@dataclass(frozen=True, slots=True)
class _ToFolder:
    number: int
    folder: str

    def __post_init__(self) -> None:
        check_number(self.number, 1)
        _check_name(self.folder)


@dataclass(frozen=True, slots=True)
class Move(_ToFolder):
    """MOVE msg folder: the message goes to the folder at QUIT (and leaves this listing now)."""


@dataclass(frozen=True, slots=True)
class Copy(_ToFolder):
    """COPY msg folder: a copy of the message appears in the folder at QUIT."""


@dataclass(frozen=True, slots=True)
class Mime:
    """MIME msg: the message's parts, one per line."""

    number: int

    def __post_init__(self) -> None:
        check_number(self.number, 1)


@dataclass(frozen=True, slots=True)
class Part:
    """PART msg part-id [octets]: one part's raw body, or only its first octets."""

    number: int
    part_id: str
    octets: int | None = None

    def __post_init__(self) -> None:
        check_number(self.number, 1)
        if not is_part_id(self.part_id):
            raise ValueError(f"not a part id: {self.part_id!r}")
        if self.octets is not None:
            check_number(self.octets, 0)


_Parsed = Lfld | Sfld | Cfld | Dfld | Renf | Movf | Move | Copy | Mime | Part
_MISSING_NAME: Final = CommandError("Missing folder name.")


def _name(argument: bytes, *, parent: bool = False) -> str | CommandError:
    try:
        text = argument.decode("utf-8")
    except UnicodeDecodeError:
        return CommandError("Folder name is not valid UTF-8.")
    if parent and text == SEPARATOR:
        return text
    try:
        return folder_name(text)
    except FolderError as error:
        return CommandError(error.refusal.value)


def _one_name(build: Callable[[str], _Parsed]) -> Callable[[bytes], _Parsed | CommandError]:
    def parse(rest: bytes) -> _Parsed | CommandError:
        match arguments(rest):
            case []:
                return _MISSING_NAME
            case [argument]:
                name = _name(argument)
                return name if isinstance(name, CommandError) else build(name)
            case _:
                return TOO_MANY

    return parse


def _two_names(
    build: Callable[[str, str], _Parsed], missing: str, *, parent: bool = False
) -> Callable[[bytes], _Parsed | CommandError]:
    """The second name may be "/" (the top level) where it names a `parent`."""

    def parse(rest: bytes) -> _Parsed | CommandError:
        match arguments(rest):
            case [] | [_]:
                return CommandError(missing)
            case [first, second]:
                name = _name(first)
                if isinstance(name, CommandError):
                    return name
                other = _name(second, parent=parent)
                return other if isinstance(other, CommandError) else build(name, other)
            case _:
                return TOO_MANY

    return parse


def _to_folder(build: Callable[[int, str], _Parsed]) -> Callable[[bytes], _Parsed | CommandError]:
    def parse(rest: bytes) -> _Parsed | CommandError:
        match arguments(rest):
            case []:
                return MISSING_NUMBER
            case [_]:
                return _MISSING_NAME
            case [first, second]:
                message = number(first, MESSAGE_NUMBER, 1)
                if isinstance(message, CommandError):
                    return message
                name = _name(second)
                return name if isinstance(name, CommandError) else build(message, name)
            case _:
                return TOO_MANY

    return parse


def _parse_lfld(rest: bytes) -> _Parsed | CommandError:
    return TOO_MANY if arguments(rest) else Lfld()


def _parse_mime(rest: bytes) -> _Parsed | CommandError:
    match arguments(rest):
        case []:
            return MISSING_NUMBER
        case [argument]:
            message = number(argument, MESSAGE_NUMBER, 1)
            return message if isinstance(message, CommandError) else Mime(message)
        case _:
            return TOO_MANY


def _parse_part(rest: bytes) -> _Parsed | CommandError:
    match arguments(rest):
        case []:
            return MISSING_NUMBER
        case [_]:
            return CommandError("Missing part id.")
        case [first, part_id, *limit] if len(limit) <= 1:
            message = number(first, MESSAGE_NUMBER, 1)
            if isinstance(message, CommandError):
                return message
            text = part_id.decode("ascii", "replace")
            if not is_part_id(text):
                return CommandError("Invalid part id.")
            octets = number(limit[0], "Octet count", 0) if limit else None
            return octets if isinstance(octets, CommandError) else Part(message, text, octets)
        case _:
            return TOO_MANY


PARSERS: Final[dict[bytes, Callable[[bytes], _Parsed | CommandError]]] = {
    b"LFLD": _parse_lfld,
    b"SFLD": _one_name(Sfld),
    b"CFLD": _one_name(Cfld),
    b"DFLD": _one_name(Dfld),
    b"RENF": _two_names(Renf, "RENF takes the folder and its new name."),
    b"MOVF": _two_names(Movf, "MOVF takes the folder and its new parent.", parent=True),
    b"MOVE": _to_folder(Move),
    b"COPY": _to_folder(Copy),
    b"MIME": _parse_mime,
    b"PART": _parse_part,
}
