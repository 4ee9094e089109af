"""File one stored message into its recipients' mailboxes, exactly once (DESIGN invariant 1).

The steps, and what a crash after each leaves for the retry (Lambda retries a failed asynchronous
event twice; SES and S3 may deliver an event twice; two invocations may run at once):
1. resolve the recipients (reads only);
2. read the header block (a ranged GET), rewriting the object once if it is not canonical;
3. `begin`: create the message's ingest record and take ingest's hold on the object (one
   transaction). A retry finds the record `ingesting` and carries on; `done` means all was filed;
4. file each mailbox: a conditional transaction per mailbox (the uid marker makes a replay a
   duplicate, whether the first run delivered, quarantined, or the message was deleted since);
5. `finish`: mark the record done and release the hold (conditional, so exactly once).
Because the hold is held from step 3 to step 5, no POP3 QUIT can delete the object while a run
is unfinished: the retry always finds it.

So that a message for N mailboxes costs N transactions, a delivery (a mailbox whose policy
delivers it) carries step 3 in the first mailbox's transaction and step 5 in the last one's
(`RecordStep`); for one mailbox both, and then no hold at all: the record is created `done` with
the entry, so there is no moment between for a crash to fall into. When such a transaction is
refused (a replay, another run, the quota, a closing mailbox) nothing was written, and the run
takes that mailbox's steps one by one, which tell those cases apart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

from popdrop.canonical import has_bare_lf, to_canonical
from popdrop.events import (
    S3_EVENT_SOURCE,
    S3Object,
    event_source,
    parse_s3_event,
    parse_ses_event,
)
from popdrop.faces.faults import MailboxNotFound, ObjectNotFound
from popdrop.faces.ingest import Filed, IngestStatus, IngestStore, Outcome, RecordStep
from popdrop.ingest.addressing import Resolution, resolve
from popdrop.ingest.headers import (
    HEAD_READ,
    HEADER_LIMIT,
    header_block_size,
    header_recipients,
    header_verdicts,
    parse_summary,
    unique_id,
)
from popdrop.logfmt import log_event, now_ms
from popdrop.model import Disposition, MessageEntry, Quarantined, Verdicts

logger = logging.getLogger("popdrop.ingest")

# SES accepts messages up to "40 MB" including headers (SES developer guide, receiving quotas):
# popdrop reads that as 40 MiB, 41,943,040 octets, the limit the SMTP stand-in advertises too.
MAX_MESSAGE_SIZE: Final = 40 * 1024 * 1024
# What SES (or the stand-in) prepends after accepting a message at that limit: its trace and
# verdict headers, a few KiB. A stored message may be this much larger than what SMTP counted.
TRACE_ALLOWANCE: Final = 64 * 1024
# The largest stored object ingest delivers, so that whatever SMTP accepted is deliverable; a
# larger one (only another writer can put one under the incoming prefix) is quarantined.
MAX_STORED_SIZE: Final = MAX_MESSAGE_SIZE + TRACE_ALLOWANCE


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Where one message went: mailbox addresses (or unknown recipients), one tuple per
    `Outcome`."""

    message_id: str
    object_key: str
    delivered: tuple[str, ...] = ()
    duplicate: tuple[str, ...] = ()  # filed there before: a replayed or concurrent event
    unknown: tuple[str, ...] = ()  # no such mailbox (or not an address at all)
    quarantined: tuple[str, ...] = ()  # kept out of the maildrop, with a reason
    dropped: tuple[str, ...] = ()  # the mailbox's policy dropped it
    # Why each quarantined or dropped mailbox got it ("spam=FAIL", "over quota: 5 messages"):
    # what a report says, not what tells two results apart.
    reasons: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @classmethod
    def of(
        cls,
        message_id: str,
        object_key: str,
        where: Mapping[Outcome, Sequence[str]],
        reasons: Mapping[str, str] | None = None,
    ) -> IngestResult:
        def found(outcome: Outcome) -> tuple[str, ...]:
            return tuple(where.get(outcome, ()))

        return cls(
            message_id,
            object_key,
            delivered=found(Outcome.DELIVERED),
            duplicate=found(Outcome.DUPLICATE),
            unknown=found(Outcome.UNKNOWN),
            quarantined=found(Outcome.QUARANTINED),
            dropped=found(Outcome.DROPPED),
            reasons=tuple((reasons or {}).items()),
        )

    def mailboxes(self, outcome: Outcome) -> tuple[str, ...]:
        match outcome:
            case Outcome.DELIVERED:
                return self.delivered
            case Outcome.DUPLICATE:
                return self.duplicate
            case Outcome.UNKNOWN:
                return self.unknown
            case Outcome.QUARANTINED:
                return self.quarantined
            case Outcome.DROPPED:
                return self.dropped


@dataclass(frozen=True, slots=True)
class _Run:
    """One message on its way in: which, where it is stored, when, and to whom."""

    message_id: str
    object_key: str
    arrived_at: int
    recipients: tuple[str, ...]
    resolution: Resolution


@dataclass(frozen=True, slots=True)
class _Head:
    size: int
    header_size: int
    block: bytes  # the header block, for the summary and for header-derived recipients
    rewritten: bool


def ingest(
    store: IngestStore,
    *,
    message_id: str,
    object_key: str,
    recipients: Iterable[str],
    arrived_at: int,
    verdicts: Verdicts | None = None,
) -> IngestResult:
    """File the stored object `object_key` into each recipient's mailbox (arrived_at: epoch ms).

    Raises `ObjectNotFound` when the object is missing and the message was never filed."""
    recipients = tuple(recipients)
    run = _Run(message_id, object_key, arrived_at, recipients, resolve(store, recipients))
    if not run.resolution.deliveries:
        return _unrouted(store, run)
    head = _read_head(store, message_id, object_key, trust_body=True)
    if head is None:
        return _duplicate(run)
    return _file(store, run, head, verdicts)


def ingest_object(store: IngestStore, object_key: str, arrived_at: int) -> IngestResult:
    """File an object that came without an SES event (an S3 notification, or the reconcile
    sweep): recipients and verdicts come from its headers (docs/ingest.md)."""
    message_id = object_key.removeprefix(store.incoming_prefix)
    head = _read_head(store, message_id, object_key, trust_body=False)
    if head is None:
        return IngestResult(message_id, object_key)
    recipients = tuple(header_recipients(head.block))
    run = _Run(message_id, object_key, arrived_at, recipients, resolve(store, recipients))
    if not run.resolution.deliveries:
        return _unrouted(store, run)
    return _file(store, run, head, None)


def ingest_ses_event(store: IngestStore, event: Mapping[str, Any]) -> list[IngestResult]:
    """Ingest every message of an SES receipt event; raises InvalidEvent before any write when the
    event is malformed."""
    return [
        ingest(
            store,
            message_id=message.message_id,
            object_key=store.incoming_key(message.message_id),
            recipients=message.recipients,
            arrived_at=message.timestamp_ms,
            verdicts=message.verdicts,
        )
        for message in parse_ses_event(event)
    ]


def ingest_s3_event(store: IngestStore, event: Mapping[str, Any]) -> list[IngestResult]:
    """Ingest every object an S3 `ObjectCreated` notification reports; objects of another bucket
    or outside the incoming prefix are skipped with a log line (a misconfigured notification)."""
    results = []
    for obj in parse_s3_event(event):
        if not is_incoming(store, obj):
            log_event(logger, "ingest.skipped", logging.WARNING, bucket=obj.bucket, key=obj.key)
            continue
        results.append(ingest_object(store, obj.key, obj.timestamp_ms))
    return results


def is_incoming(store: IngestStore, obj: S3Object) -> bool:
    """Whether an S3 event's object is under this store's bucket and incoming prefix: anything
    else is a misconfigured notification, never mail to file."""
    return obj.bucket == store.bucket and obj.key.startswith(store.incoming_prefix)


def ingest_event(store: IngestStore, event: Mapping[str, Any]) -> list[IngestResult]:
    """An SES receipt event or an S3 notification, told apart by the records' eventSource."""
    if event_source(event) == S3_EVENT_SOURCE:
        return ingest_s3_event(store, event)
    return ingest_ses_event(store, event)


def _read_head(store: IngestStore, message_id: str, key: str, *, trust_body: bool) -> _Head | None:
    """The header block and sizes of the canonical object; None when the object is gone because
    the message was filed and deleted since (a late replay)."""
    try:
        return _canonical_head(store, key, trust_body=trust_body)
    except ObjectNotFound:
        record = store.ingest_record(message_id)
        if record is not None and record.status is IngestStatus.DONE:
            return None
        raise


def _canonical_head(store: IngestStore, key: str, *, trust_body: bool) -> _Head:
    """Detect a non-canonical object cheaply and rewrite it once (docs/ingest.md, "Canonical form").

    The first read (HEAD_READ octets) covers most messages whole. A bare LF in it, or a missing
    final CRLF when it is the whole object, means a rewrite. Beyond it the body of an SES message
    is trusted (SMTP DATA is CRLF-terminated lines, so SES's object is); for other writers one
    suffix GET of two octets checks the final CRLF.
    """
    head, size = store.read_head(key, HEAD_READ)
    whole = size <= len(head)
    canonical = not has_bare_lf(head)
    if canonical and size and (whole or not trust_body):
        tail = head[-2:] if whole else store.read_tail(key, 2)
        canonical = tail == b"\r\n"
    rewritten = False
    if not canonical and size <= MAX_STORED_SIZE:
        data = head if whole else store.read_whole(key)  # the first read may be all of it
        fixed = to_canonical(data)
        if fixed != data:
            store.rewrite_incoming(key, fixed)
            rewritten = True
        head, size = fixed[:HEADER_LIMIT], len(fixed)
    header_size = header_block_size(head)
    if header_size is None and size > len(head) and len(head) < HEADER_LIMIT:
        head, size = store.read_head(key, HEADER_LIMIT)
        header_size = header_block_size(head)
    if header_size is None:
        # No empty line: the message is all header (RFC 5322 §3.5: the body is optional), or its
        # header block outgrew HEADER_LIMIT; either way TOP sends the whole message.
        header_size = size
    return _Head(size, header_size, head[:header_size], rewritten)


def _file(store: IngestStore, run: _Run, head: _Head, verdicts: Verdicts | None) -> IngestResult:
    message_id, object_key, resolution = run.message_id, run.object_key, run.resolution
    # No verdicts from an event (`popdrop deliver`, a resumed run): SES's headers in the message.
    verdicts = verdicts or header_verdicts(head.block)
    uid, summary = unique_id(message_id), parse_summary(head.block)
    entries = [
        MessageEntry(
            mailbox=delivery.mailbox,
            uid=uid,
            object_key=object_key,
            size=head.size,
            header_size=head.header_size,
            arrived_at=run.arrived_at,
            summary=summary,
            tag=delivery.tag,
            verdicts=verdicts,
        )
        for delivery in resolution.deliveries
    ]
    started = now_ms()
    where: dict[Outcome, list[str]] = {outcome: [] for outcome in Outcome}
    reasons: dict[str, str] = {}
    begun = finished = False
    for delivery, tagged in zip(resolution.deliveries, entries, strict=True):
        last = tagged is entries[-1]
        entry = _in_tagged_folder(store, tagged)
        if (not begun or last) and _delivered_with_record(
            store, run, entry, where, begun=begun, last=last
        ):
            where[Outcome.DELIVERED].append(delivery.mailbox)
            begun, finished = True, last
            continue
        if not begun:
            status = store.begin_ingest(message_id, object_key, started, run.recipients)
            if status is IngestStatus.DONE:
                return _duplicate(run)
            begun = True
        outcome, reason = _file_one(store, entry, resolution, started)
        where[outcome].append(delivery.mailbox)
        if reason:
            reasons[delivery.mailbox] = reason
    if not finished:
        store.finish_ingest(message_id, object_key, now_ms(), _counts(where))
    where[Outcome.UNKNOWN][:0] = resolution.unknown
    result = IngestResult.of(message_id, object_key, where, reasons)
    _log(result, verdicts, head)
    return result


def _delivered_with_record(
    store: IngestStore,
    run: _Run,
    entry: MessageEntry,
    where: Mapping[Outcome, Sequence[str]],
    *,
    begun: bool,
    last: bool,
) -> bool:
    """Deliver `entry` with the record's first or last step in the same transaction (a message
    for one mailbox: both), when its policy delivers it. Anything else (a quarantine, a drop, a
    refusal, a replay, another run) is left to the steps one by one: nothing was written."""
    policy = run.resolution.directory.policy(entry.mailbox)
    disposition, _ = policy.disposition(entry.verdicts)
    if disposition is not Disposition.DELIVER or entry.size > MAX_MESSAGE_SIZE:
        return False
    outcomes = None
    if last:
        outcomes = _counts(where)
        outcomes[Outcome.DELIVERED] += 1
    step = RecordStep(run.message_id, run.recipients, now_ms(), not begun, outcomes)
    return store.deliver_and_record(entry, policy, step)


def _counts(where: Mapping[Outcome, Sequence[str]]) -> dict[Outcome, int]:
    """The record counts the mailboxes filed into (or found gone meanwhile), not unresolved
    names."""
    return {outcome: len(mailboxes) for outcome, mailboxes in where.items()}


def _in_tagged_folder(store: IngestStore, entry: MessageEntry) -> MessageEntry:
    """user+tag@: the entry filed in the POP4 folder named tag, when there is one (a quarantine
    ignores it: `IngestStore.quarantine`)."""
    if not entry.tag:
        return entry
    return replace(entry, folder=store.folder_for_tag(entry.mailbox, entry.tag))


def _file_one(
    store: IngestStore, entry: MessageEntry, resolution: Resolution, now: int
) -> tuple[Outcome, str]:
    """File into one mailbox as its policy says; (outcome, reason)."""
    policy = resolution.directory.policy(entry.mailbox)
    disposition, reason = policy.disposition(entry.verdicts)
    if entry.size > MAX_STORED_SIZE and disposition is Disposition.DELIVER:
        disposition, reason = Disposition.QUARANTINE, f"too large: {entry.size} octets"
    try:
        if disposition is Disposition.DROP:
            return Outcome.DROPPED, reason
        if disposition is Disposition.DELIVER:
            filed = store.deliver(entry, policy)
            if filed is Filed.OVER_MESSAGES:
                reason = f"over quota: {policy.max_messages} messages"
            elif filed is Filed.OVER_OCTETS:
                reason = f"over quota: {policy.max_octets} octets"
            else:
                return (Outcome.DELIVERED if filed is Filed.FILED else Outcome.DUPLICATE), ""
        filed = store.quarantine(Quarantined(entry, reason, now))
    except MailboxNotFound:
        return Outcome.UNKNOWN, ""
    return (Outcome.QUARANTINED, reason) if filed is Filed.FILED else (Outcome.DUPLICATE, "")


def _unrouted(store: IngestStore, run: _Run) -> IngestResult:
    """No recipient reaches a mailbox: record it (so reconcile leaves it alone and gc may delete
    the object) and log why. Nothing else is written."""
    message_id = run.message_id
    store.record_unrouted(message_id, run.object_key, now_ms(), {Outcome.UNKNOWN: 1})
    result = IngestResult(message_id, run.object_key, unknown=run.resolution.unknown)
    log_event(
        logger,
        "ingest.message",
        logging.WARNING,
        correlation_id=message_id,
        message_id=message_id,
        unknown=list(result.unknown),
        reason="no recipient matches a mailbox, alias or catch-all",
    )
    return result


def _duplicate(run: _Run) -> IngestResult:
    message_id = run.message_id
    mailboxes = tuple(delivery.mailbox for delivery in run.resolution.deliveries)
    result = IngestResult(
        message_id, run.object_key, duplicate=mailboxes, unknown=run.resolution.unknown
    )
    log_event(
        logger,
        "ingest.message",
        correlation_id=message_id,
        message_id=message_id,
        duplicate=list(mailboxes),
        reason="already ingested",
    )
    return result


def _log(result: IngestResult, verdicts: Verdicts, head: _Head) -> None:
    """One structured line per message, the SES message id as its correlation id."""
    fields: dict[str, Any] = {
        outcome.value: list(result.mailboxes(outcome))
        for outcome in Outcome
        if result.mailboxes(outcome)
    }
    log_event(
        logger,
        "ingest.message",
        correlation_id=result.message_id,
        message_id=result.message_id,
        size=head.size,
        header_size=head.header_size,
        rewritten=head.rewritten,
        verdicts={kind: value for kind, value in asdict(verdicts).items() if value},
        reasons=dict(result.reasons),
        **fields,
    )
