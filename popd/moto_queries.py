"""moto's DynamoDB Query reading only the partition it asks for, as `popdrop dev` and the benches'
storage host run it.

moto 5's `Table.query` on the table itself (not an index) gathers every item of the table, sorts
them all by key, and only then keeps the partition's (`Table.all_items`). A login's listing is such
a Query, so its cost grew with everything the table holds: with 10,000 mailboxes held by idle
sessions each new login sorted some 30,000 items, and the benches' storage host, not popdrop, ran
out of CPU (docs/performance.md, issue 17). `install` hands moto's own query code a view of the
table whose `all_items` is the one partition: the same answers (moto sorts the partition by its
range key after), at the cost of what the partition holds. Index queries are moto's as shipped.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table


class _OnePartition:
    """The table as one Query sees it: every attribute the table's, but `all_items` the partition's
    items only."""

    def __init__(self, table: Table, hash_key: DynamoType) -> None:
        self._table = table
        self._hash_key = hash_key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Item]:
        partition = self._table.items.get(self._hash_key)
        if partition is None:
            return []
        if self._table.range_key_attr:
            return list(partition.values())
        return [partition]  # type: ignore[list-item]


def partition_query(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Table.query` that looks at the asked partition only when no index is named."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        if bound.arguments.get("index_name"):
            return original(self, *args, **kwargs)
        return original(_OnePartition(self, bound.arguments["hash_key"]), *args, **kwargs)

    return query


_installed: list[bool] = []


def install() -> None:
    """Idempotent: moto's query is wrapped once."""
    if not _installed:
        Table.query = partition_query(Table.query)  # type: ignore[method-assign]
        _installed.append(True)
