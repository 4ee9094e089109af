"""Message entries of a mailbox and their unique-id markers: list and fetch. Ingest files them
(`popdrop.store.intake`); `popdrop.store.changes` deletes, moves and copies them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from popdrop.model import (
    INBOX_ID,
    QUARANTINE_ID,
    Address,
    FolderId,
    Listing,
    MessageEntry,
    is_valid_uid,
)
from popdrop.store import codec, queries, schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Messages:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def listing(self, address: Address, *, now: int | None, folder: FolderId = INBOX_ID) -> Listing:
        """All entries of INBOX (or of `folder`) in arrival order, from one paginated, strongly
        consistent Query. Entries whose TTL passed by `now` (epoch seconds) are skipped;
        `now=None` keeps them (removal must see every entry)."""
        items = queries.partition(
            self._db, self._table, schema.mailbox_pk(address), codec.entry_prefix(folder)
        )
        kept = [item for item in items if now is None or not codec.is_expired(item, now)]
        expiries = [
            int(item[schema.TTL_ATTRIBUTE]["N"]) for item in kept if schema.TTL_ATTRIBUTE in item
        ]
        return Listing(
            tuple(codec.entry_from_item(address, item) for item in kept),
            min(expiries, default=None),
        )

    def in_folders(self, address: Address) -> tuple[MessageEntry, ...]:
        """Every entry of every POP4 folder, expired ones included (a mailbox's removal), from
        one paginated Query (`begins_with(sk, "FMSG#")`)."""
        items = queries.partition(
            self._db, self._table, schema.mailbox_pk(address), schema.FOLDER_MESSAGE_PREFIX
        )
        return tuple(codec.entry_from_item(address, item) for item in items)

    def get(
        self, address: Address, uid: str, *, now: int, quarantined: bool = False
    ) -> MessageEntry | None:
        """The message with this uid in any folder (its marker says where), or None; a
        quarantined one only when asked for."""
        if not is_valid_uid(uid):
            return None
        marker = self._get_item(codec.marker_key(address, uid))
        if marker is None:
            return None
        if codec.entry_folder(marker[codec.ENTRY_SK]["S"]) == QUARANTINE_ID and not quarantined:
            return None
        item = self._get_item(codec.key(schema.mailbox_pk(address), marker[codec.ENTRY_SK]["S"]))
        if item is None or codec.is_expired(item, now):
            return None
        return codec.entry_from_item(address, item)

    def _get_item(self, key: codec.Item) -> codec.Item | None:
        with aws_errors():
            response = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        return response.get("Item")
