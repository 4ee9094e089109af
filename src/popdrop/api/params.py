"""Path parameters: each segment arrives as sent (percent-encoded, `middleware.RoutePathAsSent`)
and is decoded here once, then checked against the pattern the OpenAPI document publishes, so any
valid address or unique id can be named, `/`, `%` and non-ASCII characters included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final, TypeVar
from urllib.parse import unquote

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator

from popdrop.api import problems
from popdrop.model import Address, InvalidAddress, normalize_address, normalize_route_address

T = TypeVar("T")

# The shapes `popdrop.model` accepts, as JSON Schema patterns (clients percent-encode them in the
# path). An address is then normalised (lower-cased), which may still refuse it (422).
ADDRESS_PATTERN: Final = (
    r"^[^\s@\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$"
)
ROUTE_PATTERN: Final = (
    r"^(?:[^\s@\x00-\x1f\x7f]{1,64})?@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$"
)
UID_PATTERN: Final = r"^[\x21-\x7e]{1,70}$"  # RFC 1939 §7
# IMAP section numbers (RFC 3501 §6.4.5), and TEXT for a message's multipart body.
PART_PATTERN: Final = (
    r"^(?:(?:[1-9][0-9]{0,3}\.){0,31}TEXT|[1-9][0-9]{0,3}(?:\.[1-9][0-9]{0,3}){0,31})$"
)
NAME_PATTERN: Final = r"^[A-Za-z0-9._-]{1,32}$"


# Every list's page size, and the cursor of the lists of messages (the last uid seen).
PageLimit = Annotated[int, Query(ge=1, le=500, description="items per page")]
UidCursor = Annotated[str | None, Query(pattern=UID_PATTERN, description="the last uid seen")]


def _decode(value: object) -> object:
    return unquote(value, errors="strict") if isinstance(value, str) else value


Decoded = BeforeValidator(_decode)

MailboxAddress = Annotated[
    Address,
    Path(pattern=ADDRESS_PATTERN, max_length=320, description="a mailbox address"),
    Decoded,
    AfterValidator(normalize_address),
]
RouteAddress = Annotated[
    str,
    Path(
        pattern=ROUTE_PATTERN,
        max_length=320,
        description="an alias's address, or @domain for the domain's catch-all",
    ),
    Decoded,
    AfterValidator(normalize_route_address),
]
MessageUid = Annotated[
    str, Path(pattern=UID_PATTERN, description="the message's POP3 unique id (UIDL)"), Decoded
]
PartId = Annotated[
    str, Path(pattern=PART_PATTERN, max_length=200, description="an IMAP-style part id"), Decoded
]
# A POP4 folder name (`popdrop.folders.folder_name` checks the rest: levels, depth, octets).
FolderName = Annotated[
    str,
    Path(pattern=r"^[^\s\x00-\x1f\x7f]{1,200}$", description='a folder name, levels split by "/"'),
    Decoded,
]
AppPasswordName = Annotated[
    str, Path(pattern=NAME_PATTERN, description="the app password's name"), Decoded
]


def address_cursor(value: str | None, normalize: Callable[[str], T]) -> T | None:
    """A list's `starting_after` address, normalised as the list's keys are (400 when it is not
    an address)."""
    if value is None:
        return None
    try:
        return normalize(value)
    except InvalidAddress:
        raise problems.ProblemError(problems.INVALID_CURSOR, "not an address") from None
