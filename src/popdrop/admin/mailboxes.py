"""Mailboxes and their credentials: create one (with a chosen or a generated password), change its
password, its app passwords. A password is stored as an scrypt hash with a SCRAM-SHA-256
verifier beside it, never as itself."""

from __future__ import annotations

import secrets
import time
from typing import Final

from popdrop import model
from popdrop.admin.errors import InvalidName, InvalidPassword
from popdrop.auth import app_passwords
from popdrop.auth.passwords import hash_password
from popdrop.auth.scram import derive_keys
from popdrop.faces.admin import MailboxAdmin
from popdrop.faces.faults import MailboxNotFound
from popdrop.model import Address, AppPassword, Mailbox, normalize_password

# A generated password: 144 random bits in 24 URL-safe characters, easy to paste into a client.
_GENERATED_BYTES: Final = 18


def check_password(password: str) -> str:
    """The password in its one form (`popdrop.model.normalize_password`), when popdrop accepts
    it; `InvalidPassword` says why not."""
    try:
        return normalize_password(password)
    except model.InvalidPassword as error:
        raise InvalidPassword(str(error)) from None


def generate_password() -> str:
    return secrets.token_urlsafe(_GENERATED_BYTES)


def create_mailbox(store: MailboxAdmin, address: Address, password: str) -> Mailbox:
    """Raises `InvalidPassword`, `MailboxExists`."""
    password = check_password(password)
    return store.create_mailbox(address, hash_password(password), derive_keys(password))


def set_password(store: MailboxAdmin, address: Address, password: str) -> None:
    """Replace the password and its SCRAM verifier; `InvalidPassword`, `MailboxNotFound`."""
    password = check_password(password)
    store.set_password(address, hash_password(password), derive_keys(password))


def add_app_password(store: MailboxAdmin, address: Address, name: str) -> tuple[AppPassword, str]:
    """Generate an app password named `name`; the stored entry and the password itself (shown to
    the user once, never stored). Raises `InvalidName`, `AppPasswordConflict`, `MailboxNotFound`."""
    password, digest = app_passwords.generate()
    try:
        entry = AppPassword(name=name, digest=digest, created_at=int(time.time()))
    except ValueError as error:
        raise InvalidName(str(error)) from None
    store.add_app_password(address, entry)
    return entry, password


def list_app_passwords(store: MailboxAdmin, address: Address) -> tuple[AppPassword, ...]:
    """Raises `MailboxNotFound`."""
    mailbox = store.get_mailbox(address)
    if mailbox is None:
        raise MailboxNotFound(address)
    return mailbox.app_passwords
