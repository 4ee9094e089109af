"""Sweep checkpoints: one `SWEEP#<name>` / `#CHECKPOINT` item per scheduled sweep, holding how far
(epoch milliseconds) its last complete run got, so the next run looks only at what came since.

A plain Put, last writer wins: two sweeps running at once both start from the old checkpoint and
both write a correct one (each covered everything before its own cutoff).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SWEPT_TO: Final = "swept_to"


class Sweeps:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def checkpoint(self, name: str) -> int | None:
        """Where sweep `name` last got to; None before its first complete run."""
        with aws_errors():
            response = self._db.get_item(TableName=self._table, Key=_key(name), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else int(item[SWEPT_TO]["N"])

    def save_checkpoint(self, name: str, swept_to: int) -> None:
        with aws_errors():
            self._db.put_item(
                TableName=self._table, Item={**_key(name), SWEPT_TO: codec.n(swept_to)}
            )


def _key(name: str) -> codec.Item:
    return codec.key(schema.sweep_pk(name), schema.CHECKPOINT_SK)
