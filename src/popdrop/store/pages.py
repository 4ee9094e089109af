"""The REST API's pages: a mailbox's messages or quarantine newest first, mailboxes and routes in
address order, each continuing after a cursor, read lazily page by page (DynamoDB's 1 MB pages),
so a reply of `limit` items reads only as far as it must.

A cursor names an item the client saw last: a message's unique id, whose marker item (never
deleted, `schema`) still says where the message sorted after it was deleted or moved; an address.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from popdrop.model import Address, Mailbox, MessageEntry, Quarantined, Route, is_valid_uid
from popdrop.store import codec, queries, schema
from popdrop.store.aws import aws_errors
from popdrop.store.intake import quarantined_from_item
from popdrop.store.messages import detailed_items
from popdrop.store.routes import route_from_item, route_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Above every character a unique id may hold (0x21-0x7E): ends a range of sort keys at a given
# arrival millisecond, whatever the ids.
_AFTER_EVERY_UID: Final = "\x7f"
_LAST_MS: Final = 10**13 - 1  # the largest arrival time the 13-digit sort key holds


class Pages:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def messages(
        self,
        address: Address,
        *,
        after_uid: str | None,
        since_ms: int | None,
        until_ms: int | None,
    ) -> Iterator[MessageEntry] | None:
        items = _newest_first(
            self._db,
            self._table,
            address,
            schema.MESSAGE_PREFIX,
            after_uid=after_uid,
            since_ms=since_ms,
            until_ms=until_ms,
        )
        if items is None:
            return None
        now = int(time.time())
        kept = (item for item in items if not codec.is_expired(item, now))
        return detailed_items(self._db, self._table, address, kept)

    def quarantined(
        self, address: Address, *, after_uid: str | None
    ) -> Iterator[Quarantined] | None:
        items = _newest_first(
            self._db, self._table, address, schema.QUARANTINE_PREFIX, after_uid=after_uid
        )
        return None if items is None else (quarantined_from_item(address, i) for i in items)

    def mailboxes(self, *, after: Address | None) -> Iterator[Mailbox]:
        start = None if after is None else (after, codec.profile_key(after))
        items = queries.directory(self._db, self._table, schema.DIRECTORY_MAILBOX, after=start)
        return (codec.mailbox_from_item(item) for item in items)

    def routes(self, *, after: str | None) -> Iterator[Route]:
        start = None if after is None else (after, route_key(after))
        items = queries.directory(self._db, self._table, schema.DIRECTORY_ROUTE, after=start)
        return (route_from_item(item) for item in items)


def _newest_first(
    dynamodb: DynamoDBClient,
    table: str,
    address: Address,
    prefix: str,
    *,
    after_uid: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> Iterator[codec.Item] | None:
    """The mailbox's items under `prefix` (`MSG#` or `QUA#`) newest first, arrived within
    [since_ms, until_ms] when given, after the item `after_uid` when given; None when that uid
    never sorted under `prefix` in this mailbox."""
    after_sk = None
    if after_uid is not None:
        after_sk = _entry_sk(dynamodb, table, address, after_uid)
        if after_sk is None or not after_sk.startswith(prefix):
            return None
    between = None
    if since_ms is not None or until_ms is not None:
        low = schema.message_sk(max(since_ms or 0, 0), "", prefix)
        high = schema.message_sk(min(_LAST_MS, until_ms or _LAST_MS), _AFTER_EVERY_UID, prefix)
        between = (low, high)
    return queries.partition(
        dynamodb,
        table,
        schema.mailbox_pk(address),
        prefix,
        between=between,
        after_sk=after_sk,
        descending=True,
    )


def _entry_sk(dynamodb: DynamoDBClient, table: str, address: Address, uid: str) -> str | None:
    if not is_valid_uid(uid):
        return None
    with aws_errors():
        marker = dynamodb.get_item(
            TableName=table, Key=codec.marker_key(address, uid), ConsistentRead=True
        ).get("Item")
    return None if marker is None else marker[codec.ENTRY_SK]["S"]
