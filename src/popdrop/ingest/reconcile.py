"""The reconciliation sweep: ingest stored messages whose event was lost.

SES and S3 invoke Lambda asynchronously, and an event can be dropped (or end in the failure queue).
The sweep looks at each object older than the grace period that arrived since its last run:
- from the **arrivals queue** when one is configured (template.yaml: EventBridge puts S3's
  `Object Created` event of every object under the incoming prefix on it): the run reads only
  what arrived, so it costs one ReceiveMessage when nothing did, however many objects are kept;
- else from a **listing** of the incoming prefix, skipping objects older than its checkpoint less
  a safety window: one ListObjectsV2 per 1000 objects kept.
For each object it reads the ingest record (`MSGID#<message id>`):
- `done`: handled (delivered, quarantined, dropped or unrouted); skipped;
- `ingesting` and older than the grace period: a run died and its retries are spent: resumed
  with the recipients the run began with;
- no record: never ingested: ingested from its headers, as an S3 notification would be.
Every write is the pipeline's own conditional one, so a sweep racing a late event, or a second
sweep, files nothing twice (docs/ingest.md, "Lost events").
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Final

from popdrop.events import InvalidEvent, parse_s3_event
from popdrop.faces.faults import ObjectNotFound, StoreError
from popdrop.faces.ingest import Arrival, IngestStatus, IngestStore
from popdrop.ingest.pipeline import IngestResult, ingest, ingest_object, is_incoming
from popdrop.logfmt import log_event

logger = logging.getLogger("popdrop.ingest.reconcile")

# SES's Lambda action usually runs within seconds of the S3 action, and Lambda retries a failed
# event for up to six hours by default (popdrop's template: two retries, minutes apart). Fifteen
# minutes leaves the normal path and its retries room before the sweep steps in; the sweep's
# writes are idempotent, so stepping in early costs requests, never duplicates.
DEFAULT_GRACE_SECONDS: Final = 15 * 60
DEFAULT_LIMIT: Final = 1000  # objects ingested per run, so a run fits in a Lambda timeout
# Arrivals a run receives, per object it may ingest: an arrival already handled costs only a
# GetItem and a tenth of a receive and a delete, so a run after an outage that left 100,000 to
# settle does 10,000 of them (about a minute) and reports `truncated`, well inside the timeout.
RECEIVED_PER_LIMIT: Final = 10
CHECKPOINT: Final = "reconcile"  # the sweep's checkpoint item (`popdrop.store.sweeps`)
# Objects this much older than the checkpoint are looked at again. S3 stamps LastModified when a
# PUT starts, so a slow upload lists after later ones; the sweep's clock and S3's may differ too.
# An hour covers both many times over and costs one GetItem per object of that hour per run.
SAFETY_WINDOW_MS: Final = 3600_000


@dataclass
class ReconcileReport:
    source: str = "listing"  # or "arrivals": where the run learnt of its objects
    received: int = 0  # messages from the arrivals queue
    skipped: int = 0  # of those, not an object under this bucket's incoming prefix
    scanned: int = 0  # objects under the prefix
    recent: int = 0  # younger than the grace period: left to their events
    settled: int = 0  # arrived before the last run's checkpoint: not looked at again
    handled: int = 0  # already ingested
    gone: int = 0  # deleted before any run filed it: nothing to ingest
    ingested: list[IngestResult] = field(default_factory=list)  # never ingested: done now
    resumed: list[IngestResult] = field(default_factory=list)  # a dead run, finished now
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, error), retried next run
    truncated: bool = False  # stopped at the limit: run again

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "received": self.received,
            "skipped": self.skipped,
            "scanned": self.scanned,
            "recent": self.recent,
            "settled": self.settled,
            "handled": self.handled,
            "gone": self.gone,
            "ingested": [result.message_id for result in self.ingested],
            "resumed": [result.message_id for result in self.resumed],
            "failed": [key for key, _ in self.failed],
            "truncated": self.truncated,
        }


def reconcile(
    store: IngestStore,
    *,
    now_ms: int,
    grace_seconds: int = DEFAULT_GRACE_SECONDS,
    limit: int = DEFAULT_LIMIT,
    full: bool = False,
) -> ReconcileReport:
    """One run; `full` lists every object, ignoring (and then renewing) the checkpoint, and
    leaves the arrivals queue alone."""
    report = ReconcileReport()
    cutoff = now_ms - grace_seconds * 1000
    if store.has_arrivals and not full:
        report.source = "arrivals"
        _from_arrivals(store, cutoff, limit, report)
    else:
        _from_listing(store, cutoff, limit, report, full=full)
    log_event(logger, "reconcile.done", **report.as_dict())
    return report


def _from_arrivals(store: IngestStore, cutoff: int, limit: int, report: ReconcileReport) -> None:
    """Receive until the queue is empty or the limit is reached. Handled messages are deleted
    batch by batch (a run that dies redoes little); the others are shown again when due, at the
    end, so that this run does not receive them twice."""
    due: list[tuple[str, int]] = []
    try:
        while True:
            if _worked(report) >= limit or report.received >= limit * RECEIVED_PER_LIMIT:
                report.truncated = True
                break
            batch = store.receive_arrivals()
            if not batch:
                break
            report.received += len(batch)
            done = []
            for arrival in batch:
                wait = _arrival(store, arrival, cutoff, report)
                if wait is None:
                    done.append(arrival.receipt)
                else:
                    due.append((arrival.receipt, wait))
            store.settle_arrivals(done)
        store.defer_arrivals(due)
    except StoreError as error:
        # What was not settled comes back when its visibility ends: the next run handles it.
        report.failed.append(("arrivals", str(error)))
        log_event(logger, "reconcile.failed", logging.ERROR, key="arrivals", error=str(error))


def _arrival(
    store: IngestStore, arrival: Arrival, cutoff: int, report: ReconcileReport
) -> int | None:
    """Sweep one message's objects; None when it is settled, else the seconds until it is due
    again (0: at the next run)."""
    try:
        body = json.loads(arrival.body)
        if not isinstance(body, dict):
            raise InvalidEvent(f"event: expected an object, got {type(body).__name__}")
        objects = parse_s3_event(body)
    except (ValueError, InvalidEvent) as error:  # not JSON, or not S3's Object Created event
        report.skipped += 1
        log_event(logger, "reconcile.skipped", logging.WARNING, error=str(error)[:200])
        return None
    wait = None
    for obj in objects:
        if not is_incoming(store, obj):
            report.skipped += 1
            log_event(logger, "reconcile.skipped", logging.WARNING, bucket=obj.bucket, key=obj.key)
            continue
        report.scanned += 1
        if obj.timestamp_ms > cutoff:
            report.recent += 1
            wait = max(wait or 0, -(-(obj.timestamp_ms - cutoff) // 1000))
        elif not _sweep_one(store, obj.key, obj.timestamp_ms, cutoff, report):
            wait = wait or 0
    return wait


def _worked(report: ReconcileReport) -> int:
    return len(report.ingested) + len(report.resumed) + len(report.failed)


def _from_listing(
    store: IngestStore, cutoff: int, limit: int, report: ReconcileReport, *, full: bool
) -> None:
    checkpoint = None if full else store.sweep_checkpoint(CHECKPOINT)
    since = None if checkpoint is None else checkpoint - SAFETY_WINDOW_MS
    swept_to = cutoff  # the next checkpoint: every object up to it needs no further look
    for obj in store.list_incoming():
        report.scanned += 1
        if obj.modified_ms > cutoff:
            report.recent += 1
            continue
        if since is not None and obj.modified_ms <= since:
            report.settled += 1
            continue
        if _worked(report) >= limit:
            report.truncated = True
            break
        if not _sweep_one(store, obj.key, obj.modified_ms, cutoff, report):
            swept_to = min(swept_to, obj.modified_ms - 1)
    if not report.truncated:
        # A truncated run saw only part of the listing (it is in key order, not time order), so
        # it keeps the old checkpoint and the next run looks at the rest.
        try:
            store.save_sweep_checkpoint(CHECKPOINT, swept_to)
        except StoreError as error:
            report.failed.append(("checkpoint", str(error)))
            log_event(logger, "reconcile.failed", logging.ERROR, key="checkpoint", error=str(error))


def _sweep_one(
    store: IngestStore, key: str, modified_ms: int, cutoff: int, report: ReconcileReport
) -> bool:
    """Handle one object; False when a later run must look at it again (it failed, or a run
    that began after the cutoff is still at it)."""
    message_id = key.removeprefix(store.incoming_prefix)
    try:
        record = store.ingest_record(message_id)
        if record is not None and record.status is IngestStatus.DONE:
            report.handled += 1
        elif record is not None and record.started_at > cutoff:
            report.handled += 1  # its retries may still finish it; if not, the next run does
            return False
        elif record is not None:
            report.resumed.append(
                ingest(
                    store,
                    message_id=message_id,
                    object_key=key,
                    recipients=record.recipients,
                    arrived_at=record.started_at,
                )
            )
        else:
            report.ingested.append(ingest_object(store, key, modified_ms))
    except ObjectNotFound:
        # Deleted before any run filed it (an operator, or a listing that raced the deletion).
        report.gone += 1
        log_event(logger, "reconcile.gone", logging.WARNING, key=key)
    except StoreError as error:
        report.failed.append((key, str(error)))
        log_event(logger, "reconcile.failed", logging.ERROR, key=key, error=str(error))
        return False
    return True
