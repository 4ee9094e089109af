"""The garbage-collection Lambda: a daily schedule (template.yaml) runs `popdrop gc`'s sweep,
which deletes stored messages that no mailbox entry references (DESIGN invariant 8)."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from popdrop import logfmt
from popdrop.faces.admin import GC_GRACE_SECONDS
from popdrop.settings import get_settings
from popdrop.store import Store

logger = logging.getLogger("popdrop.functions.gc")


@cache
def store() -> Store:
    return Store.from_settings(get_settings())


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    logfmt.configure()
    report = store().collect_garbage(grace_seconds=GC_GRACE_SECONDS)
    summary = {
        "examined": report.objects_examined,
        "in_grace": report.objects_in_grace,
        "deleted": len(report.deleted),
    }
    logfmt.log_event(logger, "gc.done", keys=list(report.deleted), **summary)
    return summary
