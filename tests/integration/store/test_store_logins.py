"""The store's login records against moto: the APOP secret and LOGIN-DELAY's last login."""

from __future__ import annotations

import pytest

from popdrop.faces.faults import MailboxNotFound
from popdrop.store import Store
from tests.conftest import AwsCall

ADDRESS = "dora@example.test"


@pytest.fixture
def mailbox(store: Store) -> Store:
    store.create_mailbox(ADDRESS, "$scrypt$unused")
    return store


def apop_secret(store: Store) -> str | None:
    """The secret as a login reads it: with the credentials, in one read."""
    found = store.credentials(ADDRESS)
    return None if found is None else found.apop_secret


def test_the_apop_secret_is_kept_apart_from_the_password_hash(mailbox: Store) -> None:
    assert apop_secret(mailbox) is None
    mailbox.set_apop_secret(ADDRESS, "tanstaaf")
    assert apop_secret(mailbox) == "tanstaaf"
    profile = mailbox.get_mailbox(ADDRESS)
    assert profile is not None and profile.password_hash == "$scrypt$unused"
    assert "tanstaaf" not in repr(mailbox.credentials(ADDRESS))  # never in a log line


def test_an_apop_secret_for_a_missing_mailbox_is_refused(store: Store) -> None:
    with pytest.raises(MailboxNotFound):
        store.set_apop_secret(ADDRESS, "tanstaaf")
    assert apop_secret(store) is None


def test_a_removed_mailbox_takes_its_apop_secret_with_it(mailbox: Store) -> None:
    mailbox.set_apop_secret(ADDRESS, "tanstaaf")
    mailbox.remove_mailbox(ADDRESS)
    assert apop_secret(mailbox) is None


def test_a_login_is_recorded_only_once_the_delay_has_passed_rfc2449_s6_8(mailbox: Store) -> None:
    assert mailbox.record_login(ADDRESS, now=1000, delay=60)
    assert not mailbox.record_login(ADDRESS, now=1059, delay=60)
    assert mailbox.record_login(ADDRESS, now=1060, delay=60)
    # The refused attempt did not move the clock: 1060 is the last login.
    assert not mailbox.record_login(ADDRESS, now=1119, delay=60)


def test_no_login_is_recorded_for_a_missing_mailbox(store: Store) -> None:
    assert not store.record_login(ADDRESS, now=1000, delay=60)


def test_recording_a_login_costs_one_conditional_write(
    mailbox: Store, aws_calls: list[AwsCall]
) -> None:
    mailbox.record_login(ADDRESS, now=1000, delay=60)
    assert [call.operation for call in aws_calls] == ["UpdateItem"]
