"""The reconcile Lambda: a schedule (template.yaml) runs the sweep that ingests stored messages
whose SES or S3 event was lost (`popdrop.ingest.reconcile`). It returns and logs its report; a
run that stops at its limit or meets storage faults leaves the rest to the next run."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from popdrop import logfmt
from popdrop.ingest.reconcile import reconcile
from popdrop.settings import get_settings
from popdrop.store import Store

logger = logging.getLogger("popdrop.functions.reconcile")


@cache
def store() -> Store:
    return Store.from_settings(get_settings())


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    logfmt.configure()
    report = reconcile(
        store(), now_ms=logfmt.now_ms(), grace_seconds=get_settings().reconcile_grace_seconds
    )
    return report.as_dict()
