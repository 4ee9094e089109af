"""App passwords live on the mailbox profile: bounded, named, revocable (issue 4)."""

from __future__ import annotations

import pytest

from popdrop.faces.faults import AppPasswordConflict, AppPasswordNotFound, MailboxNotFound
from popdrop.model import AppPassword
from popdrop.store import Store
from popdrop.store.app_passwords import MAX_APP_PASSWORDS

ADDRESS = "ap@example.test"


def entry(name: str) -> AppPassword:
    return AppPassword(name=name, digest=f"sha256${name}", created_at=1)


def test_a_mailbox_holds_at_most_the_maximum_number_of_app_passwords(store: Store) -> None:
    store.create_mailbox(ADDRESS, "$hash")
    for n in range(MAX_APP_PASSWORDS):
        store.add_app_password(ADDRESS, entry(f"device{n}"))
    with pytest.raises(AppPasswordConflict, match="already has 20"):
        store.add_app_password(ADDRESS, entry("one-too-many"))
    mailbox = store.get_mailbox(ADDRESS)
    assert mailbox is not None and len(mailbox.app_passwords) == MAX_APP_PASSWORDS


def test_app_passwords_need_a_mailbox(store: Store) -> None:
    with pytest.raises(MailboxNotFound):
        store.add_app_password("nobody@example.test", entry("phone"))
    with pytest.raises(AppPasswordNotFound):
        store.revoke_app_password("nobody@example.test", "phone")


def test_recording_the_use_of_a_revoked_app_password_changes_nothing(store: Store) -> None:
    store.create_mailbox(ADDRESS, "$hash")
    store.add_app_password(ADDRESS, entry("phone"))
    store.revoke_app_password(ADDRESS, "phone")
    store.record_app_password_use(ADDRESS, "phone", 5, "198.51.100.1")
    mailbox = store.get_mailbox(ADDRESS)
    assert mailbox is not None and mailbox.app_passwords == ()


def test_changing_the_password_keeps_app_passwords(store: Store) -> None:
    store.create_mailbox(ADDRESS, "$hash")
    store.add_app_password(ADDRESS, entry("phone"))
    store.set_password(ADDRESS, "$other")
    mailbox = store.get_mailbox(ADDRESS)
    assert mailbox is not None and [a.name for a in mailbox.app_passwords] == ["phone"]
