"""The shared model validates itself: invalid entries cannot exist."""

from __future__ import annotations

import pytest

from popdrop.model import InvalidAddress, Mailbox, MessageEntry, is_valid_uid, normalize_address


def test_addresses_are_case_insensitive_and_trimmed() -> None:
    assert normalize_address("  Alice@Example.TEST ") == "alice@example.test"


@pytest.mark.parametrize(
    "text", ["", "alice", "@example.test", "alice@", "a b@example.test", "a@b..c", "a@-x.test"]
)
def test_non_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_address(text)


def test_a_mailbox_holds_only_its_canonical_address() -> None:
    with pytest.raises(InvalidAddress):
        Mailbox(address="Alice@example.test", password_hash="x", created_at=0)


@pytest.mark.parametrize(
    ("uid", "valid"),
    [("a", True), ("~" * 70, True), ("a" * 71, False), ("", False), ("a b", False), ("é", False)],
)
def test_unique_ids_are_1_to_70_printable_octets_rfc1939_s7(uid: str, valid: bool) -> None:
    assert is_valid_uid(uid) is valid


def test_a_message_entry_with_impossible_sizes_cannot_exist() -> None:
    with pytest.raises(ValueError, match="sizes"):
        MessageEntry("a@b.test", "u1", "k", size=10, header_size=11, arrived_at=0)
