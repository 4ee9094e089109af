"""The storage names (`POPDROP_TABLE`, `POPDROP_BUCKET`, `POPDROP_INCOMING_PREFIX`) read without
pydantic for the operator commands (issue 13, "a fast CLI"): the same defaults, rules and messages
as the daemon's `Settings`, and the same lookup as pydantic-settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from popdrop.settings import Settings
from popdrop.storage_settings import InvalidConfiguration, StorageSettings

BROKEN = [
    ("table", "ab", "POPDROP_TABLE must be 3 to 255 characters long, not 'ab'"),
    ("table", "t" * 256, "POPDROP_TABLE must be 3 to 255 characters long"),
    ("table", "", "POPDROP_TABLE must be 3 to 255 characters long, not ''"),
    ("bucket", "b" * 64, "POPDROP_BUCKET must be 3 to 63 characters long"),
    ("incoming_prefix", "incoming", "POPDROP_INCOMING_PREFIX must end with '/' (or be empty)"),
]


def _given(field: str, value: str) -> dict[str, Any]:
    return {field: value}


def test_the_defaults_are_the_daemons() -> None:
    lean = StorageSettings.from_environment({})
    assert (lean.table, lean.bucket, lean.incoming_prefix) == (
        "popdrop",
        "popdrop-mail",
        "incoming/",
    )
    assert Settings.model_fields["table"].default == lean.table
    assert Settings.model_fields["bucket"].default == lean.bucket
    assert Settings.model_fields["incoming_prefix"].default == lean.incoming_prefix


def test_names_are_read_as_pydantic_settings_reads_them() -> None:
    """Case-insensitive names, other variables ignored, an empty prefix allowed."""
    read = StorageSettings.from_environment(
        {
            "popdrop_table": "mail-table",
            "POPDROP_BUCKET": "mail-bucket",
            "POPDROP_INCOMING_PREFIX": "",
            "POPDROP_POP3_PORT": "x",
        }
    )
    assert read == StorageSettings("mail-table", "mail-bucket", "")


@pytest.mark.parametrize(("field", "value", "message"), BROKEN)
def test_a_broken_name_is_refused_alike_by_both_readers(
    field: str, value: str, message: str
) -> None:
    variable = "POPDROP_" + field.upper()
    with pytest.raises(InvalidConfiguration) as lean:
        StorageSettings.from_environment({variable: value})
    assert str(lean.value).startswith(message)
    with pytest.raises(ValidationError) as full:
        Settings(**_given(field, value))
    assert full.value.errors()[0]["msg"] == f"Value error, {lean.value}"


@pytest.mark.parametrize(
    ("field", "value"),
    [("table", "abc"), ("table", "t" * 255), ("bucket", "b" * 63), ("incoming_prefix", "in/")],
)
def test_the_bounds_themselves_are_accepted_by_both(field: str, value: str) -> None:
    variable = "POPDROP_" + field.upper()
    assert getattr(StorageSettings.from_environment({variable: value}), field) == value
    assert getattr(Settings(**_given(field, value)), field) == value
