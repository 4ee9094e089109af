"""The ingest side of the table: per-message ingest records with their object hold, and filing a
message into a mailbox (maildrop or quarantine) under its quota.

The ingest record (`MSGID#<message id>`, `#INGEST`) is the exactly-once anchor:
- `begin` creates it (`status=ingesting`) and, in the same transaction, adds one reference to the
  object: ingest's own hold. While it is held no POP3 QUIT can delete the object, so a run that
  crashes between two recipients and is retried after the first recipient retrieved and deleted
  the message still finds the object.
- `finish` sets `status=done` and releases the hold, in one transaction conditional on
  `status=ingesting`: however many runs (retries, duplicates, concurrent invocations) reach it,
  the hold is released exactly once.
gc reads the record to tell "ingested, since deleted" (done) from "never ingested" (no record).

A `done` record expires (DynamoDB TTL, `expires_at`) RECORD_RETENTION after it was finished: by
then no event for the message can be replayed (Lambda retries for six hours, an SQS dead-letter
queue keeps a message at most 14 days), and the reconcile sweep's checkpoint has long passed its
object. Nothing relies on the deletion being prompt: an expired record still reads as `done`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from popdrop.faces.faults import MailboxNotFound, StorageUnavailable
from popdrop.faces.ingest import Filed, IngestRecord, IngestStatus, Outcome, RecordStep
from popdrop.model import (
    INBOX_ID,
    QUARANTINE_ID,
    Address,
    FolderId,
    MessageEntry,
    Policy,
    Quarantined,
)
from popdrop.store import codec, folder_directory, references, schema, transactions
from popdrop.store.aws import aws_errors
from popdrop.store.changes import folder_counters
from popdrop.store.mailboxes import OPEN, Condition, counters
from popdrop.store.transactions import put_new

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

STATUS: Final = "status"
STARTED_AT: Final = "started_at"
FINISHED_AT: Final = "finished_at"
OUTCOME: Final = "outcome"
REASON: Final = "reason"
QUARANTINED_AT: Final = "quarantined_at"
RECIPIENTS: Final = "recipients"
RECORD_RETENTION: Final = 30 * 86400  # seconds a done record is kept (see above)


def ingest_key(message_id: str) -> codec.Item:
    return codec.key(schema.ingest_pk(message_id), schema.INGEST_SK)


def quarantine_item(quarantined: Quarantined) -> codec.Item:
    """A quarantined message carries its details itself (as its object's reference item does),
    so the API lists the quarantine from one Query; POP3 never reads these items."""
    entry = quarantined.entry
    return {
        **codec.entry_item(entry),
        **codec.details_item(entry),
        **codec.quarantine_key(entry),
        REASON: codec.s(quarantined.reason),
        QUARANTINED_AT: codec.n(quarantined.quarantined_at),
    }


def quarantined_from_item(address: Address, item: codec.Item) -> Quarantined:
    return Quarantined(
        entry=codec.entry_from_item(address, item),
        reason=item[REASON]["S"],
        quarantined_at=int(item[QUARANTINED_AT]["N"]),
    )


class Intake:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def record(self, message_id: str) -> IngestRecord | None:
        with aws_errors():
            response = self._db.get_item(
                TableName=self._table, Key=ingest_key(message_id), ConsistentRead=True
            )
        item = response.get("Item")
        if item is None:
            return None
        return IngestRecord(
            status=IngestStatus(item[STATUS]["S"]),
            object_key=item[codec.OBJECT_KEY]["S"],
            recipients=tuple(value["S"] for value in item.get(RECIPIENTS, {}).get("L", [])),
            started_at=int(item[STARTED_AT]["N"]),
        )

    def begin(
        self, message_id: str, object_key: str, now_ms: int, recipients: Iterable[str]
    ) -> IngestStatus | None:
        """Create the record and take the hold; None when this call did, else the status an
        earlier (or concurrent) run left: INGESTING (continue: the hold is still taken) or DONE
        (nothing left to do)."""
        record = _record(message_id, object_key, now_ms, recipients)
        items = [put_new(self._table, record), references.count(self._table, object_key, 1)]
        if transactions.transact(self._db, items) is None:
            return None
        found = self.record(message_id)
        return IngestStatus.INGESTING if found is None else found.status

    def finish(
        self, message_id: str, object_key: str, now_ms: int, outcomes: Mapping[Outcome, int]
    ) -> bool:
        """Mark the record done and release the hold; False when another run already did."""
        items: list[TransactWriteItemTypeDef] = [
            self._finish(message_id, now_ms, outcomes),
            # Releasing the hold leaves the object unreferenced only when no mailbox holds it.
            references.count(
                self._table,
                object_key,
                -1,
                collectable_after=None if _filed_any(outcomes) else now_ms,
            ),
        ]
        return transactions.transact(self._db, items) is None

    def _finish(
        self, message_id: str, now_ms: int, outcomes: Mapping[Outcome, int]
    ) -> TransactWriteItemTypeDef:
        """The record's update to `done`, conditional on `ingesting` (so it happens once)."""
        done = _done(now_ms, outcomes)
        names = {f"#{name}": name for name in done}
        return {
            "Update": {
                "TableName": self._table,
                "Key": ingest_key(message_id),
                "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in done),
                "ConditionExpression": f"#{STATUS} = :ingesting",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    **{f":{name}": value for name, value in done.items()},
                    ":ingesting": codec.s(IngestStatus.INGESTING),
                },
            }
        }

    def record_unrouted(
        self, message_id: str, object_key: str, now_ms: int, outcomes: Mapping[Outcome, int]
    ) -> None:
        """Record a message that reached no mailbox: done, without a hold (gc may delete it)."""
        record = _record(message_id, object_key, now_ms, ()) | _done(now_ms, outcomes)
        # A replay finds the record: it must not overwrite a delivery's record, so put if new.
        # The zero count marks the object for gc, which deletes it after its grace period.
        unreferenced = references.count(self._table, object_key, 0, collectable_after=now_ms)
        transactions.transact(self._db, [put_new(self._table, record), unreferenced])

    def deliver_and_record(self, entry: MessageEntry, policy: Policy, step: RecordStep) -> bool:
        """`deliver` with the record's step in the same transaction (`RecordStep`): False, and
        nothing written, when any condition fails; the caller then takes the steps one by one.

        A step that both begins and finishes (a message for one mailbox) takes no hold: there is
        no moment between taking and releasing it for a crash to fall into. The object's count
        moves by the entry's reference, plus the hold taken, less the hold released."""
        if policy.max_octets and entry.size > policy.max_octets:
            return False
        items = [
            put_new(self._table, codec.entry_item(entry)),
            put_new(self._table, codec.marker_item(entry)),
            self._quota_update(entry, policy),
        ]
        if entry.folder not in (INBOX_ID, QUARANTINE_ID):  # filed in a POP4 folder: count it there
            items.append(folder_counters(self._table, entry.mailbox, entry.folder, 1, entry.size))
        refs = 1
        if step.begins:
            record = _record(step.message_id, entry.object_key, step.now_ms, step.recipients)
            if step.outcomes is None:
                refs += 1
            else:
                record |= _done(step.now_ms, step.outcomes)
            items.insert(0, put_new(self._table, record))
        elif step.outcomes is not None:
            items.insert(0, self._finish(step.message_id, step.now_ms, step.outcomes))
            refs -= 1
        # A last step's count does not move (its entry's reference replaces the hold), and another
        # mailbox's filing already gave the item the details, unless no other mailbox filed it.
        if refs or _filed(step.outcomes or {}) <= 1:
            items.append(
                references.count(
                    self._table, entry.object_key, refs, collectable_after=None, details=entry
                )
            )
        return transactions.transact(self._db, items) is None

    def deliver(self, entry: MessageEntry, policy: Policy) -> Filed:
        """Add the entry to the maildrop and count it in the profile, unless that exceeds the
        quota; raises MailboxNotFound when the mailbox is gone (or going)."""
        if policy.max_octets and entry.size > policy.max_octets:
            return Filed.OVER_OCTETS
        update = self._quota_update(entry, policy)
        filed = self._file(codec.entry_item(entry), codec.marker_item(entry), update, entry)
        return filed or self._why_refused(entry.mailbox, entry.size, policy)

    def _quota_update(self, entry: MessageEntry, policy: Policy) -> TransactWriteItemTypeDef:
        """The profile's counters, updated if it is open and the quota has room for `entry`."""
        # `counters` names the profile's counters #count and #octets; the quota extends its
        # condition, so concurrent deliveries cannot overshoot the quota together.
        condition = OPEN.expression
        values: codec.Item = {}
        if policy.max_messages:
            condition += " AND #count < :max_count"
            values[":max_count"] = codec.n(policy.max_messages)
        if policy.max_octets:
            condition += " AND #octets <= :room"
            values[":room"] = codec.n(policy.max_octets - entry.size)
        guard = Condition(condition, OPEN.names)
        update = counters(self._table, entry.mailbox, 1, entry.size, guard)
        update["Update"]["ExpressionAttributeValues"] = {
            **update["Update"]["ExpressionAttributeValues"],
            **values,
        }
        return update

    def folder_for_tag(self, address: Address, tag: str) -> FolderId:
        return folder_directory.folder_named(self._db, self._table, address, tag)

    def quarantine(self, quarantined: Quarantined) -> Filed:
        """Keep the message out of the maildrop (`QUA#` items are never listed by POP3). Its uid
        marker is written too, so a replay neither quarantines nor delivers it again."""
        entry = replace(quarantined.entry, folder=QUARANTINE_ID)  # whatever a tag named
        quarantined = replace(quarantined, entry=entry)
        item = quarantine_item(quarantined)
        marker = {**codec.marker_item(entry), codec.ENTRY_SK: item[schema.SK]}
        # The profile does not count quarantined mail, but its listing version moves on.
        profile_open = counters(self._table, entry.mailbox, 0, 0, OPEN)
        filed = self._file(item, marker, profile_open, entry)
        if filed is None:
            raise MailboxNotFound(entry.mailbox)
        return filed

    def _file(
        self,
        item: codec.Item,
        marker: codec.Item,
        profile: TransactWriteItemTypeDef,
        entry: MessageEntry,
    ) -> Filed | None:
        """Put the item and its uid marker, update the profile (its listing version at least), and
        reference the object, all or nothing: FILED, DUPLICATE (the uid is there already), or None
        when the profile's condition failed. The one transaction that files a message (maildrop
        or quarantine); each condition guards against a timeline:

        - item `attribute_not_exists`: the event is delivered again (SES or S3 re-sends it, or
          Lambda retries a run that crashed after this write): nothing is filed or counted twice.
        - uid marker `attribute_not_exists`: the message was filed, a POP3 QUIT deleted it, then
          the event is replayed (async retries run for hours; a DLQ can be redriven later), or a
          resumed run files it with another arrival time (another item key). The marker, never
          deleted, stops a second filing: a uid is never reused in this mailbox (RFC 1939 §7,
          DESIGN invariants 1 and 5).
        - profile `attribute_exists AND NOT closing` (and the quota): the mailbox was removed (or is
          being removed) after the recipient was resolved: the transaction would otherwise
          recreate a profile holding only counters, and an entry nothing can reach.
        The object's reference count has no condition: it changes exactly when the item is added.
        Its item takes the message's details (the same for every recipient), which `item` leaves
        out unless it is a quarantine item.
        """
        items = [
            put_new(self._table, item),
            put_new(self._table, marker),
            profile,
            references.count(self._table, entry.object_key, 1, details=entry),
        ]
        if entry.folder not in (INBOX_ID, QUARANTINE_ID):  # filed in a POP4 folder: count it there
            items.append(folder_counters(self._table, entry.mailbox, entry.folder, 1, entry.size))
        codes = transactions.transact(self._db, items)
        if codes is None:
            return Filed.FILED
        if transactions.CONDITION_FAILED in codes[:2]:
            return Filed.DUPLICATE
        return None

    def _why_refused(self, address: Address, size: int, policy: Policy) -> Filed:
        with aws_errors():
            response = self._db.get_item(
                TableName=self._table, Key=codec.profile_key(address), ConsistentRead=True
            )
        item = response.get("Item")
        if item is None or codec.CLOSING in item:
            raise MailboxNotFound(address)
        count, octets = int(item[codec.MESSAGE_COUNT]["N"]), int(item[codec.OCTETS]["N"])
        if policy.max_messages and count >= policy.max_messages:
            return Filed.OVER_MESSAGES
        if policy.max_octets and octets + size > policy.max_octets:
            return Filed.OVER_OCTETS
        # Mail was deleted between the refusal and this read: the quota has room again. Let the
        # caller's retry (Lambda's, or the sweep's) deliver it rather than quarantine it.
        raise StorageUnavailable(f"quota of {address} changed during delivery, retry")


def _record(message_id: str, object_key: str, now_ms: int, recipients: Iterable[str]) -> codec.Item:
    """A new ingest record, `ingesting` (`_done` adds what makes it done)."""
    return {
        **ingest_key(message_id),
        STATUS: codec.s(IngestStatus.INGESTING),
        codec.OBJECT_KEY: codec.s(object_key),
        STARTED_AT: codec.n(now_ms),
        RECIPIENTS: {"L": [codec.s(recipient) for recipient in recipients]},
    }


def _done(now_ms: int, outcomes: Mapping[Outcome, int]) -> codec.Item:
    """The attributes of a `done` record, which expires RECORD_RETENTION later."""
    return {
        STATUS: codec.s(IngestStatus.DONE),
        FINISHED_AT: codec.n(now_ms),
        OUTCOME: _outcomes(outcomes),
        schema.TTL_ATTRIBUTE: codec.n(_expiry(now_ms)),
    }


def _filed_any(outcomes: Mapping[Outcome, int]) -> bool:
    """Whether some mailbox holds the message (filed now or before): its object stays."""
    return _filed(outcomes) > 0


def _filed(outcomes: Mapping[Outcome, int]) -> int:
    """How many mailboxes hold the message, filed now or before."""
    filed = (Outcome.DELIVERED, Outcome.QUARANTINED, Outcome.DUPLICATE)
    return sum(outcomes.get(outcome, 0) for outcome in filed)


def _expiry(now_ms: int) -> int:
    return now_ms // 1000 + RECORD_RETENTION


def _outcomes(outcomes: Mapping[Outcome, int]) -> AttributeValueTypeDef:
    return {"M": {outcome.value: codec.n(count) for outcome, count in outcomes.items()}}
