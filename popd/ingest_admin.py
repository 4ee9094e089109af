"""Operator commands for mail in: `popdrop reconcile`, `popdrop alias ...`, `popdrop quarantine ...`
and `popdrop mailbox policy`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from popd.admin import UsageError
from popdrop.ingest.reconcile import reconcile as sweep
from popdrop.logfmt import now_ms
from popdrop.model import VERDICT_KINDS, Action, Route, normalize_address
from popdrop.settings import Settings
from popdrop.store import Store


def reconcile(settings: Settings, *, grace_seconds: int | None, limit: int) -> int:
    """Run the sweep once and print its report as JSON (exit 1 when an object failed)."""
    grace = settings.reconcile_grace_seconds if grace_seconds is None else grace_seconds
    report = sweep(Store.from_settings(settings), now_ms=now_ms(), grace_seconds=grace, limit=limit)
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.failed else 0


def alias(settings: Settings, action: str, address: str | None, targets: Sequence[str]) -> int:
    store = Store.from_settings(settings)
    if action == "list":
        for route in store.routes.list_routes():
            print(f"{route.address}\t{', '.join(route.targets)}")
        return 0
    assert address is not None
    canonical = _route_address(address)
    if action == "remove":
        if not store.routes.delete_route(canonical):
            raise UsageError(f"no such alias: {canonical}")
        print(f"removed {canonical}")
        return 0
    mailboxes = list(dict.fromkeys(normalize_address(target) for target in targets))
    missing = [target for target in mailboxes if store.get_mailbox(target) is None]
    if missing:
        raise UsageError(f"no such mailbox: {', '.join(missing)}")
    store.routes.put_route(Route(canonical, tuple(mailboxes)))
    print(f"{canonical} -> {', '.join(mailboxes)}")
    return 0


def quarantine(settings: Settings, action: str, address: str, uid: str | None) -> int:
    store = Store.from_settings(settings)
    canonical = normalize_address(address)
    if store.get_mailbox(canonical) is None:
        raise UsageError(f"no such mailbox: {canonical}")
    if action == "list":
        for held in store.quarantine.listing(canonical):
            entry = held.entry
            print(f"{entry.uid}\t{entry.size} octets\t{held.reason}\t{entry.summary.subject}")
        return 0
    assert uid is not None
    if action == "release":
        found = store.quarantine.get(canonical, uid)
        if found is None or not store.quarantine.release(found):
            raise UsageError(f"no quarantined message {uid} in {canonical}")
        print(f"released {uid} into {canonical}")
    else:
        if not store.discard_quarantined(canonical, uid):
            raise UsageError(f"no quarantined message {uid} in {canonical}")
        print(f"discarded {uid} from {canonical}")
    return 0


def policy(settings: Settings, address: str, changes: dict[str, Any]) -> int:
    """Show the mailbox's policy, after applying the given changes (None: unchanged; the parser
    has checked the actions and that quotas are not negative)."""
    store = Store.from_settings(settings)
    canonical = normalize_address(address)
    directory = store.routes.lookup([canonical])
    if canonical not in directory.mailboxes:
        raise UsageError(f"no such mailbox: {canonical}")
    current = directory.policy(canonical)
    given: dict[str, Any] = {
        name: Action(value) if name in VERDICT_KINDS else value
        for name, value in changes.items()
        if value is not None
    }
    if given:
        current = replace(current, **given)
        store.routes.put_policy(canonical, current)
    for kind in VERDICT_KINDS:
        print(f"{kind}=FAIL\t{getattr(current, kind)}")
    print(f"max_messages\t{current.max_messages or 'unlimited'}")
    print(f"max_octets\t{current.max_octets or 'unlimited'}")
    return 0


ACTIONS = [action.value for action in Action]


def _route_address(text: str) -> str:
    """An alias address, or `@domain` for the domain's catch-all."""
    if text.strip().startswith("@"):
        return "@" + normalize_address("catch-all" + text.strip()).partition("@")[2]
    return normalize_address(text)
