"""What every command parser shares: the parse error, splitting a line's arguments, message
numbers and other counts (RFC 1939 §3: arguments are separated by single spaces; numbers are
decimal). `commands` (RFC 1939 and its extensions) and `pop4_commands` (POP4) build on these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Message numbers are at most 2**31-1 (no maildrop comes near it); a longer digit string is
# refused before int() so a client cannot make the parser build a huge integer.
MAX_NUMBER: Final = 2**31 - 1
_MAX_DIGITS: Final = len(str(MAX_NUMBER))
MESSAGE_NUMBER: Final = "Message number"  # what `number` calls it in an error


@dataclass(frozen=True, slots=True)
class CommandError:
    """The client's line is not a command we accept; `message` follows "-ERR " on the wire."""

    message: str


TOO_MANY: Final = CommandError("Too many arguments.")
MISSING_NUMBER: Final = CommandError("Missing message number.")


def check_number(value: int, minimum: int) -> None:
    """For a command's own validation: `value` is a number `number` could have parsed."""
    if not minimum <= value <= MAX_NUMBER:
        raise ValueError(f"out of range: {value}")


def arguments(rest: bytes) -> list[bytes]:
    # Tolerate repeated and trailing spaces: some clients send "STAT " and nothing is ambiguous.
    return [argument for argument in rest.split(b" ") if argument] if rest else []


def number(argument: bytes, what: str, minimum: int) -> int | CommandError:
    """A decimal argument from `minimum` to MAX_NUMBER, or the error naming `what` is wrong."""
    if not argument.isdigit():  # bytes.isdigit() accepts ASCII digits only
        if argument.startswith(b"-") and argument[1:].isdigit():
            return CommandError(f"{what} must not be negative.")
        return CommandError(f"{what} is not a number.")
    digits = argument.lstrip(b"0") or b"0"
    if len(digits) > _MAX_DIGITS or (value := int(digits)) > MAX_NUMBER:
        return CommandError(f"{what} is too large.")
    if value < minimum:
        return CommandError(f"{what} must be at least {minimum}.")
    return value
