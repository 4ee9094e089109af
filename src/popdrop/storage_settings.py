"""Where popdrop keeps its data (`POPDROP_TABLE`, `POPDROP_BUCKET`, `POPDROP_INCOMING_PREFIX`,
`POPDROP_ARRIVALS_QUEUE`), read from the environment with the standard library alone.

These settings are defined here once, defaults and rules: `popdrop.settings.Settings` takes
its fields' defaults from `StorageSettings` and checks them with `check_storage_setting`. The
operator commands need nothing else, and reading the names here spares them importing pydantic and
pydantic-settings, about 0.15 s, a third of what `popdrop mailbox list` would otherwise take
(docs/performance.md). The lookup follows pydantic-settings' own: names are case-insensitive, an
unset variable takes the default and an empty one is a value (and checked).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Final, Protocol

ENV_PREFIX: Final = "POPDROP_"


class InvalidConfiguration(ValueError):
    """A `POPDROP_*` variable breaks its rule; the message names the variable."""


def _length_between(low: int, high: int) -> Callable[[str, str], str]:
    def check(variable: str, value: str) -> str:
        if not low <= len(value) <= high:
            raise ValueError(f"{variable} must be {low} to {high} characters long, not {value!r}")
        return value

    return check


def _folder_prefix(variable: str, value: str) -> str:
    if value and not value.endswith("/"):
        raise ValueError(f"{variable} must end with '/' (or be empty)")
    return value


# DynamoDB's table names and S3's bucket names are 3 to 255 and 3 to 63 characters.
_RULES: Final[Mapping[str, Callable[[str, str], str]]] = {
    "table": _length_between(3, 255),
    "bucket": _length_between(3, 63),
    "incoming_prefix": _folder_prefix,
    "arrivals_queue": lambda _variable, value: value,  # a URL or a name: SQS says if it exists
}


def check_storage_setting(field: str, value: str) -> str:
    """`value` if it keeps `field`'s rule, else ValueError naming the variable."""
    return _RULES[field](ENV_PREFIX + field.upper(), value)


class StorageNames(Protocol):
    """What the store is built from: `StorageSettings` here, or the daemon's whole `Settings`."""

    @property
    def table(self) -> str: ...
    @property
    def bucket(self) -> str: ...
    @property
    def incoming_prefix(self) -> str: ...
    @property
    def arrivals_queue(self) -> str: ...


@dataclass(frozen=True)
class StorageSettings:
    table: str = "popdrop"
    bucket: str = "popdrop-mail"
    incoming_prefix: str = "incoming/"
    # The SQS queue (URL or name) that EventBridge fills with S3's `Object Created` events under
    # the incoming prefix: the reconcile sweep reads what arrived there instead of listing the
    # prefix (docs/ingest.md, "Lost events"). Empty: the sweep lists the prefix.
    arrivals_queue: str = ""

    def __post_init__(self) -> None:
        for field in fields(self):
            check_storage_setting(field.name, getattr(self, field.name))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> StorageSettings:
        """The names set in `environ`, the defaults for the rest; `InvalidConfiguration` if one
        breaks its rule."""
        variables = {name.lower(): value for name, value in environ.items()}
        given = {
            field.name: variables[key]
            for field in fields(cls)
            if (key := (ENV_PREFIX + field.name).lower()) in variables
        }
        try:
            return cls(**given)
        except ValueError as error:
            raise InvalidConfiguration(str(error)) from None
