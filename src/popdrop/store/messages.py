"""Message entries of a mailbox and their unique-id markers: list, fetch, add (ingest), delete."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from popdrop.model import MessageEntry, is_valid_uid
from popdrop.store import codec, references, schema, transactions
from popdrop.store.aws import aws_errors
from popdrop.store.errors import LeaseLost, MailboxNotFound
from popdrop.store.mailboxes import EXISTS, OPEN, counters

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Per entry a Delete and at most one reference update, plus one profile update and one lease check
# per transaction: 2 * 49 + 2 = 100 items, DynamoDB's limit.
ENTRIES_PER_TRANSACTION: Final = (transactions.MAX_ITEMS - 2) // 2
_NEW: Final = "attribute_not_exists(#pk)"
_PRESENT: Final = "attribute_exists(#pk)"
_PK_NAME: Final = {"#pk": schema.PK}


class Messages:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def listing(self, address: str, *, now: int | None) -> tuple[MessageEntry, ...]:
        """All entries in arrival order, from one paginated, strongly consistent Query.

        Consistent, because a session that logs in right after another one's QUIT must not list the
        entries that QUIT deleted (their objects may be gone). Entries whose TTL passed by `now`
        (epoch seconds) are skipped; `now=None` keeps them (removal must see every entry).
        """
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :messages)",
            ExpressionAttributeNames={**_PK_NAME, "#sk": schema.SK},
            ExpressionAttributeValues={
                ":pk": codec.s(schema.mailbox_pk(address)),
                ":messages": codec.s(schema.MESSAGE_PREFIX),
            },
            ConsistentRead=True,
        )
        with aws_errors():
            return tuple(
                codec.entry_from_item(address, item)
                for page in pages
                for item in page["Items"]
                if now is None or not codec.is_expired(item, now)
            )

    def get(self, address: str, uid: str, *, now: int) -> MessageEntry | None:
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

    def add(self, entry: MessageEntry) -> bool:
        """Add the entry, count it in the profile and reference its object, all or nothing.

        Each condition guards against a timeline:
        - entry `attribute_not_exists`: the event is delivered again (SES or S3 re-sends it, or
          Lambda retries a run that crashed after this write): the entry exists, nothing is
          counted twice.
        - uid marker `attribute_not_exists`: the entry was delivered, a POP3 QUIT deleted it, then
          the event is replayed (async retries run for hours; a DLQ can be redriven later). The
          entry is gone but the marker, never deleted, stops a second delivery: a uid is never
          reused in this mailbox (RFC 1939 §7, DESIGN invariants 1 and 5).
        - profile `attribute_exists AND NOT closing`: the mailbox was removed (or is being removed)
          after the recipient was resolved: the transaction would otherwise recreate a profile
          holding only counters, and an entry nothing can reach.
        The object's reference count has no condition: it changes exactly when the entry is added.
        """
        items = [
            _put(self._table, codec.entry_item(entry)),
            _put(self._table, codec.marker_item(entry)),
            counters(self._table, entry.mailbox, 1, entry.size, OPEN),
            references.count(self._table, entry.object_key, 1),
        ]
        codes = transactions.transact(self._db, items)
        if codes is None:
            return True
        if transactions.CONDITION_FAILED in codes[:2]:
            return False
        raise MailboxNotFound(entry.mailbox)

    def delete(
        self,
        address: str,
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
        address: str,
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
                        "ConditionExpression": _PRESENT,
                        "ExpressionAttributeNames": _PK_NAME,
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


def _put(table: str, item: codec.Item) -> TransactWriteItemTypeDef:
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": _NEW,
            "ExpressionAttributeNames": _PK_NAME,
        }
    }


put_new = _put  # a transaction item putting `item` only if absent (the ingest side's writes too)
