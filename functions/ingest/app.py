"""The ingest Lambda: SES's receipt rule invokes it (asynchronously) after storing the message, or
S3 notifies it of a new object under the incoming prefix. One handler serves both shapes.

Thin by design: read the event, run `popdrop.ingest`, log, return a summary. Failures raise, so
Lambda's asynchronous retries (and the on-failure destination) keep the event: a storage fault
heals on retry, and a replay delivers nothing twice (DESIGN invariant 1). A malformed event raises
too, after a clear log line, so it is kept for inspection rather than dropped.

Logging is popdrop's stdlib JSON formatter (`popdrop.logfmt`), not Powertools' Logger: the same
one-line JSON shape as the daemon and the API, no dependency, and nothing to import at cold start
(docs/ingest.md, "Logging").
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from popdrop import logfmt
from popdrop.events import InvalidEvent
from popdrop.faces.faults import StoreError
from popdrop.faces.ingest import Outcome
from popdrop.ingest import ingest_event
from popdrop.settings import get_settings
from popdrop.store import Store

logger = logging.getLogger("popdrop.functions.ingest")


@cache
def store() -> Store:
    """One store per execution environment: its clients (and their connections) outlive calls."""
    return Store.from_settings(get_settings())


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    logfmt.configure()  # idempotent; here rather than at import, so importing has no effect
    request_id = getattr(context, "aws_request_id", None)
    try:
        results = ingest_event(store(), event)
    except (InvalidEvent, StoreError) as error:
        kind = "ingest.invalid_event" if isinstance(error, InvalidEvent) else "ingest.failed"
        logfmt.log_event(logger, kind, logging.ERROR, request_id=request_id, error=str(error))
        raise
    summary: dict[str, Any] = {"message_ids": [result.message_id for result in results]}
    for outcome in Outcome:
        summary[outcome.value] = sum(len(result.mailboxes(outcome)) for result in results)
    logfmt.log_event(logger, "ingest.done", request_id=request_id, **summary)
    return summary
