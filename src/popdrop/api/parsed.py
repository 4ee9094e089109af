"""A message read whole and parsed, for the routes that look inside it (its detail, a part, its
HTML). Parsing holds the message in memory a few times over, so it is bounded:
POPDROP_API_PARSE_MAX_BYTES (a larger message answers 422 `message-too-large`; /raw serves it)."""

from __future__ import annotations

from email.message import EmailMessage

from popdrop.api import problems
from popdrop.faces.api import ApiStore
from popdrop.mime import structure
from popdrop.model import Address, MessageEntry
from popdrop.settings import Settings


def entry_of(store: ApiStore, address: Address, uid: str) -> MessageEntry:
    entry = store.get_message(address, uid)
    if entry is None:
        raise problems.not_found()
    return entry


def parsed_message(
    store: ApiStore, settings: Settings, address: Address, uid: str
) -> tuple[MessageEntry, EmailMessage]:
    entry = entry_of(store, address, uid)
    if entry.size > settings.api_parse_max_bytes:
        raise problems.ProblemError(
            problems.MESSAGE_TOO_LARGE,
            f"the message has {entry.size} octets, over the {settings.api_parse_max_bytes} this "
            "API parses (POPDROP_API_PARSE_MAX_BYTES); its raw form is at .../raw",
        )
    data = b"".join(store.iter_object(entry.object_key))
    return entry, structure.parse(data)
