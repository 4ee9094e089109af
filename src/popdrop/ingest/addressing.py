"""Recipients -> mailboxes: case-insensitive addresses, aliases, plus-addressing, catch-alls.

For each recipient, the first rule that matches decides (docs/ingest.md, "Addressing"):
1. a mailbox with exactly this address;
2. an alias with exactly this address (its target mailboxes);
3. for `user+tag@domain`: the mailbox, else the alias, `user@domain`, with the tag recorded;
4. the domain's catch-all (`@domain`);
otherwise the recipient is unknown. Aliases point at mailboxes, not at other aliases (one level:
no loops to guard against). A mailbox reached by several recipients gets the message once.

Costs one BatchGetItem for the recipients' candidates, plus one for alias targets not yet seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from popdrop.faces.ingest import Directory, IngestStore
from popdrop.model import Address, InvalidAddress, normalize_address, split_plus


@dataclass(frozen=True, slots=True)
class Delivery:
    mailbox: Address
    tag: str = ""  # the plus-address tag, "" when none


@dataclass(frozen=True, slots=True)
class Resolution:
    deliveries: tuple[Delivery, ...] = ()
    unknown: tuple[str, ...] = ()  # recipients that reach no mailbox (or are no address)
    directory: Directory = field(default_factory=Directory)


def resolve(store: IngestStore, recipients: Iterable[str]) -> Resolution:
    """Where each recipient's copy goes. Recipients enter popdrop here: they are normalised once,
    and an invalid one is unknown."""
    addresses: dict[Address, None] = {}
    unknown: list[str] = []
    for recipient in recipients:
        try:
            addresses[normalize_address(recipient)] = None
        except InvalidAddress:
            unknown.append(recipient.strip()[:320])
    if not addresses:
        return Resolution(unknown=tuple(unknown))
    directory = store.lookup(_candidates(addresses))
    routed = {address: _route(directory, address) for address in addresses}
    missing = {d.mailbox for found in routed.values() for d in found} - directory.mailboxes
    if missing:
        directory = directory.merged(store.lookup(missing))
    deliveries: dict[Address, Delivery] = {}
    for address, found in routed.items():
        reachable = [d for d in found if d.mailbox in directory.mailboxes]
        if not reachable:
            unknown.append(address)
        for delivery in reachable:
            deliveries.setdefault(delivery.mailbox, delivery)
    return Resolution(tuple(deliveries.values()), tuple(unknown), directory)


def _candidates(addresses: Iterable[Address]) -> list[str]:
    candidates: list[str] = []
    for address in addresses:
        base, tag = split_plus(address)
        candidates += [address, *([base] if tag else []), "@" + address.rpartition("@")[2]]
    return candidates


def _route(directory: Directory, address: Address) -> list[Delivery]:
    base, tag = split_plus(address)
    for candidate, candidate_tag in ((address, ""), (base, tag)):
        if candidate in directory.mailboxes:
            return [Delivery(candidate, candidate_tag)]
        if route := directory.routes.get(candidate):
            return [Delivery(target, candidate_tag) for target in route.targets]
    catch_all = directory.routes.get("@" + address.rpartition("@")[2])
    return [Delivery(target) for target in catch_all.targets] if catch_all else []
