"""Message entries of a mailbox and their unique-id markers: list, fetch, delete. Ingest files
them (`popdrop.store.intake`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from popdrop.faces.faults import LeaseLost, MailboxNotFound
from popdrop.model import Address, MessageEntry, is_valid_uid
from popdrop.store import codec, queries, references, schema, transactions
from popdrop.store.aws import aws_errors
from popdrop.store.mailboxes import EXISTS, counters

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Per entry a Delete and at most one reference update, plus one profile update and one lease check
# per transaction: 2 * 49 + 2 = 100 items, DynamoDB's limit.
ENTRIES_PER_TRANSACTION: Final = (transactions.MAX_ITEMS - 2) // 2


class Messages:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def listing(self, address: Address, *, now: int | None) -> tuple[MessageEntry, ...]:
        """All entries in arrival order, from one paginated, strongly consistent Query. Entries
        whose TTL passed by `now` (epoch seconds) are skipped; `now=None` keeps them (removal
        must see every entry)."""
        items = queries.partition(
            self._db, self._table, schema.mailbox_pk(address), schema.MESSAGE_PREFIX
        )
        return tuple(
            codec.entry_from_item(address, item)
            for item in items
            if now is None or not codec.is_expired(item, now)
        )

    def get(self, address: Address, uid: str, *, now: int) -> MessageEntry | None:
        if not is_valid_uid(uid):
            return None
        marker = self._get_item(codec.marker_key(address, uid))
        # A quarantined message's marker points at its `QUA#` item: it is not in the maildrop.
        if marker is None or not marker[codec.ENTRY_SK]["S"].startswith(schema.MESSAGE_PREFIX):
            return None
        item = self._get_item(codec.key(schema.mailbox_pk(address), marker[codec.ENTRY_SK]["S"]))
        if item is None or codec.is_expired(item, now):
            return None
        return codec.entry_from_item(address, item)

    def delete(
        self,
        address: Address,
        entries: Sequence[MessageEntry],
        guard: TransactWriteItemTypeDef | None = None,
    ) -> list[MessageEntry]:
        """Delete entries (at most ENTRIES_PER_TRANSACTION), dereference their objects and update
        the profile counters in one transaction. Return the entries this call deleted.

        An entry that is already gone (an earlier run of the same commit wrote its transaction and
        then crashed, or a concurrent API call deleted it) fails its `attribute_exists` condition
        and is dropped, so its object is not dereferenced twice and the counters stay exact.
        `guard` (a lease check, first in the transaction) cancels it all when it fails: then
        `LeaseLost` is raised and nothing was written.
        """
        try:
            return transactions.settle(
                self._db, entries, lambda pending: self._deletes(address, pending, guard)
            )
        except transactions.SharedConditionFailed as failed:
            if guard is not None and failed.codes[0] == transactions.CONDITION_FAILED:
                raise LeaseLost(address) from None
            raise MailboxNotFound(address) from None

    def _deletes(
        self,
        address: Address,
        entries: Sequence[MessageEntry],
        guard: TransactWriteItemTypeDef | None,
    ) -> list[transactions.Write[MessageEntry]]:
        writes: list[transactions.Write[MessageEntry]] = [] if guard is None else [(guard, None)]
        writes += [
            (
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": codec.entry_key(entry),
                        "ConditionExpression": "attribute_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": schema.PK},
                    }
                },
                entry,
            )
            for entry in entries
        ]
        # One update per object: a transaction may not touch an item twice.
        for object_key, refs in Counter(entry.object_key for entry in entries).items():
            writes.append((references.count(self._table, object_key, -refs), None))
        octets = sum(entry.size for entry in entries)
        writes.append((counters(self._table, address, -len(entries), -octets, EXISTS), None))
        return writes

    def _get_item(self, key: codec.Item) -> codec.Item | None:
        with aws_errors():
            response = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        return response.get("Item")
