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
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from popdrop.model import MessageEntry, Policy, Quarantined
from popdrop.store import codec, references, schema, transactions
from popdrop.store.aws import aws_errors
from popdrop.store.errors import MailboxNotFound, StorageUnavailable
from popdrop.store.mailboxes import OPEN, Condition, counters
from popdrop.store.messages import put_new

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

STATUS: Final = "status"
INGESTING: Final = "ingesting"
DONE: Final = "done"
STARTED_AT: Final = "started_at"
FINISHED_AT: Final = "finished_at"
OUTCOME: Final = "outcome"
REASON: Final = "reason"
QUARANTINED_AT: Final = "quarantined_at"


RECIPIENTS: Final = "recipients"


@dataclass(frozen=True, slots=True)
class IngestRecord:
    status: str  # INGESTING or DONE
    object_key: str
    recipients: tuple[str, ...]  # the recipients a run began with, so a sweep can resume it
    started_at: int  # epoch milliseconds


class Filed(enum.Enum):
    FILED = "filed"  # written by this call
    DUPLICATE = "duplicate"  # the uid was filed in this mailbox before (maildrop or quarantine)
    OVER_MESSAGES = "over_messages"  # delivering would exceed the mailbox's message quota
    OVER_OCTETS = "over_octets"  # ... or its octet quota


def ingest_key(message_id: str) -> codec.Item:
    return codec.key(schema.ingest_pk(message_id), schema.INGEST_SK)


def quarantine_item(quarantined: Quarantined) -> codec.Item:
    entry = quarantined.entry
    return {
        **codec.entry_item(entry),
        schema.SK: codec.s(schema.quarantine_sk(entry.arrived_at, entry.uid)),
        REASON: codec.s(quarantined.reason),
        QUARANTINED_AT: codec.n(quarantined.quarantined_at),
    }


def quarantined_from_item(address: str, item: codec.Item) -> Quarantined:
    return Quarantined(
        entry=codec.entry_from_item(address, item),
        reason=item[REASON]["S"],
        quarantined_at=int(item[QUARANTINED_AT]["N"]),
    )


class Intake:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def status(self, message_id: str) -> str | None:
        """The message's ingest status (`ingesting`, `done`), None when it was never ingested."""
        record = self.record(message_id)
        return record.status if record else None

    def record(self, message_id: str) -> IngestRecord | None:
        with aws_errors():
            response = self._db.get_item(
                TableName=self._table, Key=ingest_key(message_id), ConsistentRead=True
            )
        item = response.get("Item")
        if item is None:
            return None
        return IngestRecord(
            status=item[STATUS]["S"],
            object_key=item[codec.OBJECT_KEY]["S"],
            recipients=tuple(value["S"] for value in item.get(RECIPIENTS, {}).get("L", [])),
            started_at=int(item[STARTED_AT]["N"]),
        )

    def begin(
        self, message_id: str, object_key: str, now_ms: int, recipients: Iterable[str]
    ) -> str | None:
        """Create the record and take the hold; None when this call did, else the status an
        earlier (or concurrent) run left: `ingesting` (continue: the hold is still taken) or
        `done` (nothing left to do)."""
        record: codec.Item = {
            **ingest_key(message_id),
            STATUS: codec.s(INGESTING),
            codec.OBJECT_KEY: codec.s(object_key),
            STARTED_AT: codec.n(now_ms),
            RECIPIENTS: {"L": [codec.s(recipient) for recipient in recipients]},
        }
        items = [put_new(self._table, record), references.count(self._table, object_key, 1)]
        if transactions.transact(self._db, items) is None:
            return None
        return self.status(message_id) or INGESTING

    def finish(
        self, message_id: str, object_key: str, now_ms: int, outcome: dict[str, int]
    ) -> bool:
        """Mark the record done and release the hold; False when another run already did."""
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": ingest_key(message_id),
                    "UpdateExpression": (
                        "SET #status = :done, #finished = :now, #outcome = :outcome"
                    ),
                    "ConditionExpression": "#status = :ingesting",
                    "ExpressionAttributeNames": {
                        "#status": STATUS,
                        "#finished": FINISHED_AT,
                        "#outcome": OUTCOME,
                    },
                    "ExpressionAttributeValues": {
                        ":done": codec.s(DONE),
                        ":ingesting": codec.s(INGESTING),
                        ":now": codec.n(now_ms),
                        ":outcome": _outcome(outcome),
                    },
                }
            },
            references.count(self._table, object_key, -1),
        ]
        return transactions.transact(self._db, items) is None

    def record_unrouted(
        self, message_id: str, object_key: str, now_ms: int, outcome: dict[str, int]
    ) -> None:
        """Record a message that reached no mailbox: done, without a hold (gc may delete it)."""
        record: codec.Item = {
            **ingest_key(message_id),
            STATUS: codec.s(DONE),
            codec.OBJECT_KEY: codec.s(object_key),
            STARTED_AT: codec.n(now_ms),
            FINISHED_AT: codec.n(now_ms),
            OUTCOME: _outcome(outcome),
        }
        # A replay finds the record: it must not overwrite a delivery's record, so put if new.
        transactions.transact(self._db, [put_new(self._table, record)])

    def deliver(self, entry: MessageEntry, policy: Policy) -> Filed:
        """Add the entry to the maildrop (as `Messages.add`) unless that exceeds the quota.

        Raises MailboxNotFound as `Messages.add` does.
        """
        if policy.max_octets and entry.size > policy.max_octets:
            return Filed.OVER_OCTETS
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
        filed = self._file(codec.entry_item(entry), codec.marker_item(entry), update, entry)
        return filed or self._why_refused(entry.mailbox, entry.size, policy)

    def quarantine(self, quarantined: Quarantined) -> Filed:
        """Keep the message out of the maildrop (`QUA#` items are never listed by POP3). Its uid
        marker is written too, so a replay neither quarantines nor delivers it again."""
        entry = quarantined.entry
        item = quarantine_item(quarantined)
        marker = {**codec.marker_item(entry), codec.ENTRY_SK: item[schema.SK]}
        profile_open: TransactWriteItemTypeDef = {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": codec.profile_key(entry.mailbox),
                "ConditionExpression": OPEN.expression,
                "ExpressionAttributeNames": OPEN.names,
            }
        }
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
        """Put the item and its uid marker (both if absent), check or update the profile, and
        reference the object: FILED, DUPLICATE (the uid is there already), or None when the
        profile's condition failed."""
        items = [
            put_new(self._table, item),
            put_new(self._table, marker),
            profile,
            references.count(self._table, entry.object_key, 1),
        ]
        codes = transactions.transact(self._db, items)
        if codes is None:
            return Filed.FILED
        if transactions.CONDITION_FAILED in codes[:2]:
            return Filed.DUPLICATE
        return None

    def _why_refused(self, address: str, size: int, policy: Policy) -> Filed:
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


def _outcome(outcome: dict[str, int]) -> AttributeValueTypeDef:
    return {"M": {name: codec.n(count) for name, count in outcome.items()}}
