"""Operator commands for mail in: `popdrop reconcile`, `popdrop alias ...`, `popdrop quarantine ...`
and `popdrop mailbox policy`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from popdrop.admin import delivery
from popdrop.faces.admin import AdminStore
from popdrop.faces.ingest import IngestStore
from popdrop.logfmt import now_ms
from popdrop.model import VERDICT_KINDS, Address


def reconcile(store: IngestStore, *, grace_seconds: int, limit: int, full: bool = False) -> int:
    """Run the sweep once and print its report as JSON (exit 1 when an object failed)."""
    # The ingest pipeline only here: the alias, quarantine and policy commands do not run it.
    from popdrop.ingest.reconcile import reconcile as sweep  # noqa: PLC0415

    report = sweep(store, now_ms=now_ms(), grace_seconds=grace_seconds, limit=limit, full=full)
    print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.failed else 0


def alias(store: AdminStore, action: str, canonical: str | None, targets: Sequence[Address]) -> int:
    """`popdrop alias add|list|remove`: `canonical` is an alias address or `@domain`."""
    if action == "list":
        for route in store.list_routes():
            print(f"{route.address}\t{', '.join(route.targets)}")
        return 0
    assert canonical is not None
    if action == "remove":
        delivery.remove_route(store, canonical)
        print(f"removed {canonical}")
        return 0
    route = delivery.set_route(store, canonical, targets)
    print(f"{canonical} -> {', '.join(route.targets)}")
    return 0


def quarantine(store: AdminStore, action: str, canonical: Address, uid: str | None) -> int:
    delivery.require_mailbox(store, canonical)
    if action == "list":
        for held in store.list_quarantined(canonical):
            entry = held.entry
            print(f"{entry.uid}\t{entry.size} octets\t{held.reason}\t{entry.summary.subject}")
        return 0
    assert uid is not None
    if action == "release":
        delivery.release(store, canonical, uid)
        print(f"released {uid} into {canonical}")
    else:
        delivery.discard(store, canonical, uid)
        print(f"discarded {uid} from {canonical}")
    return 0


def policy(store: AdminStore, canonical: Address, changes: dict[str, Any]) -> int:
    """Show the mailbox's policy, after applying the given changes (None: unchanged; the parser
    has checked the dispositions and that quotas are not negative)."""
    current = delivery.update_policy(store, canonical, changes)
    for kind in VERDICT_KINDS:
        print(f"{kind}=FAIL\t{getattr(current, kind)}")
    print(f"max_messages\t{current.max_messages or 'unlimited'}")
    print(f"max_octets\t{current.max_octets or 'unlimited'}")
    return 0
