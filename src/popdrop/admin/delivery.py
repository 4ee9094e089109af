"""Where mail goes and what happens to it: aliases and catch-alls, each mailbox's verdict policy
and quotas, and its quarantine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from popdrop.admin.errors import NotQuarantined, UnknownMailboxes, UnknownRoute
from popdrop.faces.admin import MailboxDirectory, QuarantineAdmin, RoutingAdmin
from popdrop.model import VERDICT_KINDS, Address, Disposition, MessageEntry, Policy, Route


class _RoutingDirectory(RoutingAdmin, MailboxDirectory, Protocol):
    """Routes, and the directory their targets must be in."""


def set_route(store: _RoutingDirectory, address: str, targets: Sequence[Address]) -> Route:
    """Create or replace the alias (or, for `@domain`, the catch-all) `address`; every target
    must be an existing mailbox (`UnknownMailboxes`)."""
    mailboxes = list(dict.fromkeys(targets))
    missing = [target for target in mailboxes if store.get_mailbox(target) is None]
    if missing:
        raise UnknownMailboxes(missing)
    route = Route(address, tuple(mailboxes))
    store.put_route(route)
    return route


def remove_route(store: RoutingAdmin, address: str) -> None:
    """Raises `UnknownRoute`."""
    if not store.delete_route(address):
        raise UnknownRoute(address)


def policy(store: RoutingAdmin, address: Address) -> Policy:
    """The mailbox's policy; `UnknownMailboxes` when there is no such mailbox."""
    current = store.get_policy(address)
    if current is None:
        raise UnknownMailboxes([address])
    return current


def update_policy(
    store: RoutingAdmin, address: Address, changes: Mapping[str, str | int | None]
) -> Policy:
    """The mailbox's policy after the given changes (a verdict kind -> a `Disposition` value,
    `max_messages` / `max_octets` -> a quota; None: unchanged), stored when anything changed.
    Raises `UnknownMailboxes`, and ValueError for a value no policy has (nothing is stored)."""
    current = policy(store, address)
    given = {
        name: Disposition(str(value)) if name in VERDICT_KINDS else value
        for name, value in changes.items()
        if value is not None
    }
    if given:
        current = replace(current, **given)  # type: ignore[arg-type]
        store.put_policy(address, current)
    return current


def release(store: QuarantineAdmin, address: Address, uid: str) -> MessageEntry:
    """Move a quarantined message into the maildrop; `NotQuarantined`."""
    released = store.release_quarantined(address, uid)
    if released is None:
        raise NotQuarantined(address, uid)
    return released


def discard(store: QuarantineAdmin, address: Address, uid: str) -> None:
    """Delete a quarantined message; `NotQuarantined`."""
    if not store.discard_quarantined(address, uid):
        raise NotQuarantined(address, uid)


def require_mailbox(store: MailboxDirectory, address: Address) -> None:
    """Raises `UnknownMailboxes` when there is no such mailbox."""
    if store.get_mailbox(address) is None:
        raise UnknownMailboxes([address])
