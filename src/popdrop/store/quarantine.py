"""A mailbox's quarantine: `QUA#` items in its partition, never listed by POP3 (which Queries
`MSG#`). Release moves an item into the maildrop; discard removes it and its object reference."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from popdrop.faces.faults import MailboxNotFound
from popdrop.model import INBOX_ID, Address, Quarantined
from popdrop.store import codec, queries, references, schema, transactions
from popdrop.store.aws import aws_errors
from popdrop.store.changes import point_marker
from popdrop.store.intake import quarantined_from_item
from popdrop.store.mailboxes import EXISTS, OPEN, counters
from popdrop.store.transactions import delete_if_present

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class Quarantine:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def listing(self, address: Address) -> list[Quarantined]:
        items = queries.partition(
            self._db, self._table, schema.mailbox_pk(address), schema.QUARANTINE_PREFIX
        )
        return [quarantined_from_item(address, item) for item in items]

    def get(self, address: Address, uid: str) -> Quarantined | None:
        with aws_errors():
            marker = self._db.get_item(
                TableName=self._table, Key=codec.marker_key(address, uid), ConsistentRead=True
            ).get("Item")
            sk = marker[codec.ENTRY_SK]["S"] if marker else ""
            if not sk.startswith(schema.QUARANTINE_PREFIX):
                return None
            item = self._db.get_item(
                TableName=self._table,
                Key=codec.key(schema.mailbox_pk(address), sk),
                ConsistentRead=True,
            ).get("Item")
        return quarantined_from_item(address, item) if item else None

    def release(self, quarantined: Quarantined) -> bool:
        """Move the message into the maildrop, bypassing the verdict policy and the quota (an
        operator decided). One transaction: delete the quarantine item (if still there), put the
        entry, repoint the uid marker, count it in the profile. The object reference moves with
        it, unchanged. False when it was released or discarded meanwhile."""
        entry = replace(quarantined.entry, folder=INBOX_ID)
        items: list[TransactWriteItemTypeDef] = [
            delete_if_present(self._table, codec.quarantine_key(entry)),
            {"Put": {"TableName": self._table, "Item": codec.entry_item(entry)}},
            point_marker(self._table, entry),
            # The entry is lean: its object's item keeps the details the quarantine item held.
            references.count(
                self._table, entry.object_key, 0, collectable_after=None, details=entry
            ),
            counters(self._table, entry.mailbox, 1, entry.size, OPEN),
        ]
        codes = transactions.transact(self._db, items)
        if codes is None:
            return True
        if codes[0] == transactions.CONDITION_FAILED:
            return False
        raise MailboxNotFound(entry.mailbox)

    def discard(self, quarantined: Quarantined) -> bool:
        """Delete the quarantine item and dereference its object; False when already gone. The
        caller deletes the object when this was its last reference."""
        entry = quarantined.entry
        items: list[TransactWriteItemTypeDef] = [
            delete_if_present(self._table, codec.quarantine_key(entry)),
            references.count(self._table, entry.object_key, -1),
            counters(self._table, entry.mailbox, 0, 0, EXISTS),  # the listing version moves on
        ]
        return transactions.transact(self._db, items) is None
