"""Object reference counts: one `OBJ#<key>` item per S3 object, `refs` = entries pointing at it.

One object serves every recipient of a message; it may be deleted once no entry refers to it
(DESIGN invariant 8). The item also keeps what every recipient's entry shares and a login never
reads: the message's summary and verdicts (the REST API's), and POP4's MIME structure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from popdrop.model import MessageEntry
from popdrop.store import codec, queries, schema, transactions
from popdrop.store.aws import batched

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def count(
    table: str,
    object_key: str,
    delta: int,
    *,
    collectable_after: int | None = 0,
    details: MessageEntry | None = None,
) -> TransactWriteItemTypeDef:
    """A transaction item adding `delta` to the object's reference count (creating the item).

    A count that does not go up may leave the object unreferenced, so the item is marked for gc
    (the sparse garbage index, `popdrop.store.gc`) as collectable after `collectable_after`
    (epoch ms; 0: at once), unless that is None (the caller knows a reference remains).
    `details`: an entry whose summary and verdicts the item keeps for every entry of the object
    (`codec.details_item`); they go with the item when the last reference does.
    """
    fields: codec.Item = {}
    if delta <= 0 and collectable_after is not None:
        fields[schema.GC_PK] = codec.s(schema.garbage_shard(object_key))
        fields[schema.GC_AT] = codec.n(collectable_after)
    if details is not None:
        fields |= codec.details_item(details)
    expression = "ADD #refs :delta"
    if fields:
        expression += " SET " + ", ".join(f"#{name} = :{name}" for name in fields)
    return {
        "Update": {
            "TableName": table,
            "Key": codec.reference_key(object_key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {"#refs": codec.REFS} | {f"#{n}": n for n in fields},
            "ExpressionAttributeValues": {":delta": codec.n(delta)}
            | {f":{name}": value for name, value in fields.items()},
        }
    }


def release_unreferenced(dynamodb: DynamoDBClient, table: str, keys: Sequence[str]) -> list[str]:
    """Delete the reference items of those `keys` that nothing refers to; return those keys.

    Called after their S3 objects were deleted: a reference item at zero marks an object that may
    still exist, so it goes last, and an interruption in between leaves it for `popdrop gc`.
    Deletion is conditional on `refs <= 0` because an ingest may add a reference at any moment (a
    second recipient of a shared object).
    """
    released: list[str] = []
    for batch in batched(keys, transactions.MAX_ITEMS):
        released += transactions.settle(dynamodb, batch, lambda pending: _deletes(table, pending))
    return released


def _deletes(table: str, keys: Sequence[str]) -> list[transactions.Write[str]]:
    return [
        (
            {
                "Delete": {
                    "TableName": table,
                    "Key": codec.reference_key(key),
                    "ConditionExpression": "attribute_not_exists(#refs) OR #refs <= :zero",
                    "ExpressionAttributeNames": {"#refs": codec.REFS},
                    "ExpressionAttributeValues": {":zero": codec.n(0)},
                }
            },
            key,
        )
        for key in keys
    ]


def unreferenced(dynamodb: DynamoDBClient, table: str, keys: Sequence[str]) -> list[str]:
    """Those of `keys` without a reference item, or whose item counts no reference (strongly
    consistent reads, 100 keys per request)."""
    wanted = [codec.reference_key(key) for key in keys]
    # Only the count: the item may also hold a message's details and MIME structure.
    items = queries.batch_get(dynamodb, table, wanted, attributes=(schema.PK, codec.REFS))
    referenced = {codec.referenced_object(item) for item in items if int(item[codec.REFS]["N"]) > 0}
    return [key for key in keys if key not in referenced]
