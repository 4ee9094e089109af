"""What checking a password may ask of storage: the POP3 daemon's logins and the REST API's HTTP
Basic share it, through the one authenticator (`popdrop.auth.authenticator`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from popdrop.model import Address, Mailbox


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login is checked against, from one read of the mailbox profile. The APOP secret is
    kept out of `Mailbox`, so the API's and the CLI's views never carry a plaintext-equivalent
    secret (RFC 1939 §7)."""

    mailbox: Mailbox
    apop_secret: str | None = field(default=None, repr=False)


class CredentialStore(Protocol):
    def credentials(self, address: Address) -> Credentials | None:
        """The mailbox's credentials; None when there is no such (open) mailbox."""
        ...

    def record_app_password_use(self, address: Address, name: str, at: int, client: str) -> None:
        """Note when (epoch seconds) and from where the app password `name` last logged in."""
        ...
