"""TransactWriteItems with the two things every caller needs: cancellation reasons and settling.

DynamoDB cancels a whole transaction when one condition fails and says which, item by item
("CancellationReasons", in request order). `transact` hands those codes back; `settle` uses them to
drop the units of work that are already done and to write the rest.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

from popdrop.faces.faults import StorageUnavailable, StoreError
from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MAX_ITEMS: Final = 100  # DynamoDB's limit per TransactWriteItems
CONDITION_FAILED: Final = "ConditionalCheckFailed"
# A transaction touching an item that another transaction is writing is cancelled with
# TransactionConflict, which botocore does not retry. Concurrent deliveries to one mailbox all
# update its profile counters, so conflicts are expected under load: retry a few times, briefly,
# with jitter.
_CONFLICT_CODES: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
_CONFLICT_ATTEMPTS: Final = 4
_CONFLICT_BACKOFF: Final = 0.02  # seconds, doubled per attempt

U = TypeVar("U")
Write = tuple["TransactWriteItemTypeDef", U | None]  # an item and the unit it belongs to, if any


class SharedConditionFailed(StoreError):
    """A condition on an item no single unit owns (a mailbox profile, a lease) failed; `codes`
    are the cancellation reasons in request order, so the caller can tell which."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"transaction cancelled: {list(codes)}")
        self.codes = tuple(codes)


def put_new(table: str, item: codec.Item) -> TransactWriteItemTypeDef:
    """A transaction item putting `item` only if no item has its key yet."""
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": schema.PK},
        }
    }


def delete_if_present(table: str, key: codec.Item) -> TransactWriteItemTypeDef:
    """A transaction item deleting the item at `key`, cancelled when there is none (so a unit that
    was done already is told apart, `settle`)."""
    return {
        "Delete": {
            "TableName": table,
            "Key": key,
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": schema.PK},
        }
    }


def transact(
    dynamodb: DynamoDBClient, items: Sequence[TransactWriteItemTypeDef]
) -> list[str] | None:
    """Write `items` atomically. Return None when written, or the per-item cancellation codes
    when a condition failed (nothing was written then)."""
    for attempt in range(_CONFLICT_ATTEMPTS):
        with aws_errors():
            try:
                dynamodb.transact_write_items(TransactItems=items)
            except dynamodb.exceptions.TransactionCanceledException as error:
                reasons = error.response.get("CancellationReasons", [])
                codes = [reason.get("Code", "None") for reason in reasons]
            else:
                return None
        if CONDITION_FAILED in codes:
            return codes
        if not codes or not set(codes) - {"None"} <= _CONFLICT_CODES:
            raise StoreError(f"transaction cancelled: {codes}")
        time.sleep(random.uniform(0, _CONFLICT_BACKOFF * 2**attempt))  # noqa: S311 - jitter, not crypto
    raise StorageUnavailable("transaction kept conflicting with concurrent writes")


def settle(
    dynamodb: DynamoDBClient,
    units: Sequence[U],
    build: Callable[[Sequence[U]], list[Write[U]]],
) -> list[U]:
    """Write `build(units)` in one transaction; when conditions on some units' items fail, drop
    those units and write `build(rest)`. Return the units written.

    Callers guard each unit with a condition that fails exactly when the unit needs no writing:
    its work was done by an earlier, interrupted run or a concurrent one (or does not apply), so a
    re-run finishes the job instead of failing on it. Each round drops at least one unit, so this
    ends.
    """
    pending = list(units)
    while pending:
        writes = build(pending)
        codes = transact(dynamodb, [item for item, _ in writes])
        if codes is None:
            return pending
        done = [
            unit for (_, unit), code in zip(writes, codes, strict=True) if code == CONDITION_FAILED
        ]
        if not any(unit is not None for unit in done):
            raise SharedConditionFailed(codes)
        pending = [unit for unit in pending if unit not in done]
    return []
