"""Why an administrative request cannot be done as asked. Nothing was changed when one is raised;
the message is meant for the person who asked."""

from __future__ import annotations

from collections.abc import Sequence


class AdminError(Exception):
    """The request cannot be done as asked; nothing was changed."""


class InvalidPassword(AdminError):
    """The password is empty or too long."""


class InvalidName(AdminError):
    """An app password's name is not 1-32 letters, digits, '.', '_' or '-'."""


class UnknownMailboxes(AdminError):
    """Mailboxes the request names do not exist."""

    def __init__(self, addresses: Sequence[str]) -> None:
        super().__init__(f"no such mailbox: {', '.join(addresses)}")
        self.addresses = tuple(addresses)


class UnknownRoute(AdminError):
    """No alias or catch-all has this address."""

    def __init__(self, address: str) -> None:
        super().__init__(f"no such alias: {address}")


class NotQuarantined(AdminError):
    """The mailbox's quarantine holds no message with this unique id."""

    def __init__(self, address: str, uid: str) -> None:
        super().__init__(f"no quarantined message {uid} in {address}")
