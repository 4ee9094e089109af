"""Reading many items: the paginated Query and BatchGetItem, each written once.

- `partition`: the items of one partition whose sort key has a prefix (a mailbox's messages, its
  quarantine), in sort-key order or the reverse, strongly consistent; optionally only those in a
  range of sort keys, or after a given one (the API's pages), and only some attributes of each;
- `directory`: the items the sparse `directory` index lists under one kind (mailboxes, routes), in
  the order of their `dir_sk`, optionally after a given one;
- `batch_get`: items by key, 100 per request, asking again for the keys DynamoDB hands back
  unprocessed under load, a bounded number of times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from popdrop.faces.faults import StorageUnavailable
from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors, batched

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import KeysAndAttributesTypeDef

KEYS_PER_BATCH_GET: Final = 100  # DynamoDB's limit per BatchGetItem
# Unprocessed keys are asked for again at most this often, after a jittered pause that doubles each
# round (AWS's advice for throttled batches): about a second in all before giving up.
BATCH_GET_ROUNDS: Final = 6
_BATCH_GET_BACKOFF: Final = 0.02  # seconds


def partition(
    dynamodb: DynamoDBClient,
    table: str,
    pk: str,
    sk_prefix: str,
    *,
    between: tuple[str, str] | None = None,
    after_sk: str | None = None,
    descending: bool = False,
    attributes: tuple[str, ...] = (),
) -> Iterator[codec.Item]:
    """Items of partition `pk` whose sort key starts with `sk_prefix` (or lies `between` two sort
    keys, both inclusive), in sort-key order (`descending`: the reverse), starting after the sort
    key `after_sk` when given; only `attributes` of each when given.

    Strongly consistent, because a session that logs in right after another one's QUIT must not
    list the entries that QUIT deleted (their objects may be gone).
    """
    names = {"#pk": schema.PK, "#sk": schema.SK}
    values = {":pk": codec.s(pk)}
    if between is None:
        condition = "#pk = :pk AND begins_with(#sk, :prefix)"
        values[":prefix"] = codec.s(sk_prefix)
    else:
        condition = "#pk = :pk AND #sk BETWEEN :low AND :high"
        values |= {":low": codec.s(between[0]), ":high": codec.s(between[1])}
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
        "ScanIndexForward": not descending,
    }
    if attributes:
        shown = projection(attributes)
        names |= shown["ExpressionAttributeNames"]
        request["ProjectionExpression"] = shown["ProjectionExpression"]
    if after_sk is not None:
        request["ExclusiveStartKey"] = codec.key(pk, after_sk)
    return _query(dynamodb, **request)


def projection(attributes: tuple[str, ...]) -> dict[str, Any]:
    """The request parameters that return only `attributes` of each item (all when empty)."""
    if not attributes:
        return {}
    return {
        "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(attributes))),
        "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(attributes)},
    }


def directory(
    dynamodb: DynamoDBClient,
    table: str,
    kind: str,
    *,
    after: tuple[str, codec.Item] | None = None,
) -> Iterator[codec.Item]:
    """The items the sparse `directory` index lists under `kind` (a GSI: eventually consistent),
    in `dir_sk` order; `after`: only those after this `dir_sk`, whose item has this key."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": schema.DIRECTORY_INDEX,
        "KeyConditionExpression": "#dir = :kind",
        "ExpressionAttributeNames": {"#dir": schema.DIR_PK},
        "ExpressionAttributeValues": {":kind": codec.s(kind)},
    }
    if after is not None:
        dir_sk, item_key = after
        request["ExclusiveStartKey"] = {
            schema.DIR_PK: codec.s(kind),
            schema.DIR_SK: codec.s(dir_sk),
            **item_key,
        }
    return _query(dynamodb, **request)


def _query(dynamodb: DynamoDBClient, **request: Any) -> Iterator[codec.Item]:
    """Every item of one Query, page by page (DynamoDB cuts pages at 1 MB)."""
    pages = dynamodb.get_paginator("query").paginate(**request)
    with aws_errors():
        for page in pages:
            yield from page["Items"]


def batch_get(
    dynamodb: DynamoDBClient,
    table: str,
    keys: Sequence[codec.Item],
    *,
    attributes: tuple[str, ...] = (),
) -> list[codec.Item]:
    """The items of `keys` that exist (strongly consistent reads), only `attributes` of each when
    given. Raises `StorageUnavailable` when DynamoDB still hands keys back unprocessed after
    BATCH_GET_ROUNDS requests."""
    found: list[codec.Item] = []
    for batch in batched(keys, KEYS_PER_BATCH_GET):
        request = {table: _keys_and_attributes(batch, attributes)}
        for attempt in range(BATCH_GET_ROUNDS):
            if attempt:
                time.sleep(random.uniform(0, _BATCH_GET_BACKOFF * 2**attempt))  # noqa: S311 - jitter
            with aws_errors():
                response = dynamodb.batch_get_item(RequestItems=request)
            found += response["Responses"].get(table, [])
            unprocessed = response.get("UnprocessedKeys", {}).get(table)
            if not unprocessed:
                break
            request = {table: _keys_and_attributes(unprocessed["Keys"], attributes)}
        else:
            raise StorageUnavailable("BatchGetItem kept returning unprocessed keys")
    return found


def _keys_and_attributes(
    keys: Sequence[codec.Item], attributes: tuple[str, ...]
) -> KeysAndAttributesTypeDef:
    spec: KeysAndAttributesTypeDef = {"Keys": list(keys), "ConsistentRead": True}
    if attributes:
        shown = projection(attributes)
        spec["ProjectionExpression"] = shown["ProjectionExpression"]
        spec["ExpressionAttributeNames"] = shown["ExpressionAttributeNames"]
    return spec
