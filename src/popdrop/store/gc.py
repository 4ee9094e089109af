"""Garbage collection: remove S3 objects that no mailbox entry references (DESIGN invariant 8).

Two kinds of garbage exist, both left by an interruption:
- a reference item whose count reached zero while its object survived: a QUIT commit (or a mailbox
  removal) deleted the last entry, then crashed or lost S3 before `DeleteObjects`;
- an object with no reference item at all: SES (or `put_incoming`) stored the message, and ingest
  never filed it (no recipient was known, or the event was lost for good).

An object of the second kind may also be a message whose ingest is still to come (Lambda retries an
event for up to six hours; a redriven dead-letter queue later still), so only objects older than a
grace period are candidates. Each deletion goes through the same conditional delete of the reference
item that a commit uses (`refs <= 0` or absent), so an ingest that adds a reference meanwhile wins
and the object stays. Running the sweep again finds nothing more to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors
from popdrop.store.incoming import Incoming
from popdrop.store.objects import Objects
from popdrop.store.references import release_unreferenced, unreferenced

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Unfiled objects younger than this are left alone (`popdrop gc --grace-seconds`, the daily
# GcFunction): Lambda retries an SES event for up to six hours, and an operator who redrives the
# failure queue is expected to within two days (docs/engine.md).
DEFAULT_GRACE_SECONDS = 2 * 24 * 3600


@dataclass(frozen=True, slots=True)
class GcReport:
    """What one sweep found and did."""

    objects_examined: int  # objects under the incoming prefix
    objects_in_grace: int  # unreferenced but younger than the grace period: left alone
    deleted: tuple[str, ...]  # object keys removed (or, in a dry run, that would be)
    dry_run: bool


def collect(
    dynamodb: DynamoDBClient,
    table: str,
    objects: Objects,
    incoming: Incoming,
    *,
    now: float,
    grace_seconds: float,
    dry_run: bool = False,
) -> GcReport:
    examined = 0
    old: list[str] = []
    young: list[str] = []
    for stored in incoming.listing():
        examined += 1
        (old if stored.modified_ms <= (now - grace_seconds) * 1000 else young).append(stored.key)
    candidates = set(_zero_counts(dynamodb, table)) | set(unreferenced(dynamodb, table, old))
    in_grace = len(set(unreferenced(dynamodb, table, young)) - candidates)
    keys = sorted(candidates)
    if not dry_run:
        # Objects first, reference items after, as a commit does: an interruption between the two
        # leaves a zero count behind, which the next sweep finds.
        objects.delete(keys)
        release_unreferenced(dynamodb, table, keys)
    return GcReport(examined, in_grace, tuple(keys), dry_run)


def _zero_counts(dynamodb: DynamoDBClient, table: str) -> Iterator[str]:
    """Object keys whose reference item counts zero (or less) references."""
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
                yield item[schema.PK]["S"].removeprefix(schema.object_pk(""))
