"""The shared model validates itself: invalid entries cannot exist."""

from __future__ import annotations

import pytest

from popdrop.model import (
    AppPassword,
    InvalidAddress,
    MessageEntry,
    is_valid_uid,
    normalize_address,
    normalize_route_address,
)


def test_addresses_are_case_insensitive_and_trimmed() -> None:
    assert normalize_address("  Alice@Example.TEST ") == "alice@example.test"


@pytest.mark.parametrize(
    "text", ["", "alice", "@example.test", "alice@", "a b@example.test", "a@b..c", "a@-x.test"]
)
def test_non_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_address(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("Team@Example.TEST", "team@example.test"), (" @Example.TEST ", "@example.test")],
)
def test_a_route_address_is_an_alias_or_a_domains_catch_all(text: str, canonical: str) -> None:
    assert normalize_route_address(text) == canonical


@pytest.mark.parametrize("text", ["@", "@bad domain", "team"])
def test_a_route_address_that_is_neither_is_refused(text: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_route_address(text)


@pytest.mark.parametrize("name", ["", "x" * 33, "my phone", "tab\t"])
def test_an_app_password_name_outside_1_to_32_safe_characters_cannot_exist(name: str) -> None:
    with pytest.raises(ValueError, match="app password name"):
        AppPassword(name=name, digest="sha256$x", created_at=0)


@pytest.mark.parametrize(
    ("uid", "valid"),
    [("a", True), ("~" * 70, True), ("a" * 71, False), ("", False), ("a b", False), ("é", False)],
)
def test_unique_ids_are_1_to_70_printable_octets_rfc1939_s7(uid: str, valid: bool) -> None:
    assert is_valid_uid(uid) is valid


def test_a_message_entry_with_impossible_sizes_cannot_exist() -> None:
    with pytest.raises(ValueError, match="sizes"):
        MessageEntry("a@b.test", "u1", "k", size=10, header_size=11, arrived_at=0)
