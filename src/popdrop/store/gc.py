"""Garbage collection: remove S3 objects that no mailbox entry references (DESIGN invariant 8).

Garbage is left by an interruption or by mail nobody receives, and every way to it passes through
a reference item whose count does not go up (`references.count`), which marks the item in the
sparse `garbage` index (`gc_pk` = one of the GARBAGE_SHARDS, `gc_at` = when it may go):
- a QUIT commit (or a mailbox removal, a quarantine discard) dereferenced the object, then crashed
  or lost S3 before `DeleteObjects` (`gc_at` 0: at once);
- an ingest run filed the message nowhere (no recipient matched, every policy dropped it): its
  count is zero from the start (`gc_at` = then: after the grace period, in case a later run of the
  same message still files it).
So a run reads one Query per shard and what it finds, never the table or the bucket: O(garbage).
A marked object that is referenced after all (a message shared by mailboxes, one of which deleted
it) is unmarked, conditionally on its count, so the index holds only what may still be garbage.

An object with no reference item at all was never ingested: the reconcile sweep ingests it (and
so marks it when it reaches nobody). Objects that predate the index, or a bucket restored from a
backup, are found by the full sweep (`full=True`, `popdrop gc --full`): it lists the incoming
prefix and scans the table for zero counts, as every run did before the index.

Each deletion goes through the same conditional delete of the reference item that a commit uses
(`refs <= 0` or absent). Running the sweep again finds nothing more to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from popdrop.faces.admin import GcReport
from popdrop.faces.ingest import IncomingObject
from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors
from popdrop.store.objects import Objects
from popdrop.store.references import release_unreferenced, unreferenced

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def collect(
    dynamodb: DynamoDBClient,
    table: str,
    objects: Objects,
    incoming: Iterable[IncomingObject],
    *,
    now: float,
    grace_seconds: float,
    dry_run: bool = False,
    full: bool = False,
) -> GcReport:
    """`incoming` is listed only by a full sweep."""
    cutoff_ms = (now - grace_seconds) * 1000
    examined = 0
    old: list[str] = []
    young: list[str] = []
    for key, after in _marked(dynamodb, table):
        examined += 1
        (old if after <= cutoff_ms else young).append(key)
    found = set(unreferenced(dynamodb, table, old))
    if not dry_run:
        _unmark(dynamodb, table, sorted(set(old) - found))
    if full:
        found |= set(_zero_counts(dynamodb, table))
        listed: list[str] = []
        for stored in incoming:
            examined += 1
            (listed if stored.modified_ms <= cutoff_ms else young).append(stored.key)
        found |= set(unreferenced(dynamodb, table, listed))
    in_grace = len(set(unreferenced(dynamodb, table, sorted(set(young)))) - found)
    keys = sorted(found)
    if not dry_run:
        # Objects first, reference items after, as a commit does: an interruption between the two
        # leaves a marked zero count behind, which the next sweep finds.
        objects.delete(keys)
        release_unreferenced(dynamodb, table, keys)
    return GcReport(examined, in_grace, tuple(keys), dry_run)


def _marked(dynamodb: DynamoDBClient, table: str) -> Iterator[tuple[str, int]]:
    """(object key, collectable after in epoch ms) of every reference item in the garbage index;
    one Query per shard (eventually consistent, as every index read: the strongly consistent
    `unreferenced` decides)."""
    paginator = dynamodb.get_paginator("query")
    for shard in schema.GARBAGE_SHARDS:
        pages = paginator.paginate(
            TableName=table,
            IndexName=schema.GARBAGE_INDEX,
            KeyConditionExpression="#gc_pk = :shard",
            ExpressionAttributeNames={"#gc_pk": schema.GC_PK},
            ExpressionAttributeValues={":shard": codec.s(shard)},
        )
        with aws_errors():
            for page in pages:
                for item in page["Items"]:
                    yield codec.referenced_object(item), int(item[schema.GC_AT]["N"])


def _unmark(dynamodb: DynamoDBClient, table: str, keys: Iterable[str]) -> None:
    """Take referenced objects out of the index, if they still are referenced: a count that goes
    down meanwhile marks the item again, and this conditional write cannot undo that."""
    for key in keys:
        with aws_errors():
            try:
                dynamodb.update_item(
                    TableName=table,
                    Key=codec.reference_key(key),
                    UpdateExpression="REMOVE #gc_pk, #gc_at",
                    ConditionExpression="#refs > :zero",
                    ExpressionAttributeNames={
                        "#gc_pk": schema.GC_PK,
                        "#gc_at": schema.GC_AT,
                        "#refs": codec.REFS,
                    },
                    ExpressionAttributeValues={":zero": codec.n(0)},
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                continue


def _zero_counts(dynamodb: DynamoDBClient, table: str) -> Iterator[str]:
    """Object keys whose reference item counts zero (or less) references: a Scan of the table."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(#pk, :objects) AND #refs <= :zero",
        ExpressionAttributeNames={"#pk": schema.PK, "#refs": codec.REFS},
        ExpressionAttributeValues={
            ":objects": codec.s(schema.object_pk("")),
            ":zero": codec.n(0),
        },
        ConsistentRead=True,
    )
    with aws_errors():
        for page in pages:
            for item in page["Items"]:
                yield codec.referenced_object(item)
