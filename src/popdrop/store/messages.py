"""Message entries of a mailbox and their unique-id markers: list and fetch. Ingest files them
(`popdrop.store.intake`); `popdrop.store.changes` deletes, moves and copies them.

An entry holds what POP3 needs; the message's summary and verdicts are on its object's reference
item (`codec.entry_item`, `codec.details_item`). A login reads entries only; the REST API reads the
reference items too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
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
        quarantined one only when asked for. Lean, as a login lists it (`detailed`)."""
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

    def detailed(self, entry: MessageEntry) -> MessageEntry:
        """`entry` with its summary and verdicts (one more read when it has none itself)."""
        if codec.has_details(entry):
            return entry
        item = self._get_item(codec.reference_key(entry.object_key), codec.DETAILS)
        return entry if item is None else codec.with_details(entry, item)

    def _get_item(self, key: codec.Item, attributes: tuple[str, ...] = ()) -> codec.Item | None:
        with aws_errors():
            response = self._db.get_item(
                TableName=self._table,
                Key=key,
                ConsistentRead=True,
                **queries.projection(attributes),
            )
        return response.get("Item")


def detailed_items(
    dynamodb: DynamoDBClient, table: str, address: Address, items: Iterable[codec.Item]
) -> Iterator[MessageEntry]:
    """The entries of `items` with their details, lazily: the reference items of each run of
    KEYS_PER_BATCH_GET lean entries come from one BatchGetItem."""
    iterator = iter(items)
    while run := list(islice(iterator, queries.KEYS_PER_BATCH_GET)):
        # Each object once (a POP4 copy shares its source's), in the order listed.
        wanted = dict.fromkeys(i[codec.OBJECT_KEY]["S"] for i in run if codec.SUMMARY not in i)
        details = _details(dynamodb, table, list(wanted))
        for item in run:
            yield codec.entry_from_item(address, item, details.get(item[codec.OBJECT_KEY]["S"]))


def _details(dynamodb: DynamoDBClient, table: str, keys: Sequence[str]) -> dict[str, codec.Item]:
    """The details the reference items of these objects hold, by object key."""
    keys_of = [codec.reference_key(key) for key in keys]
    found = queries.batch_get(dynamodb, table, keys_of, attributes=(schema.PK, *codec.DETAILS))
    return {codec.referenced_object(item): item for item in found}
