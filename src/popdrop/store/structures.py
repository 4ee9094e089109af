"""A message's MIME structure (POP4's MIME and PART, docs/pop4.md), computed once per object and
kept on the object's reference item (`mime_v1`), so a later MIME or PART of that message, by any
recipient, costs one GetItem and PART then one ranged GET of the part alone.

Computing it streams the object through `popdrop.mime.ranges` in bounded memory. The cache is
written only while the reference item exists (an object being deleted gets no new attribute), and
its name carries a version: a parser that numbers differently uses a new name.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from popdrop.mime.ranges import MimePart, MimeStructure, parse_structure
from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from popdrop.store.objects import Objects

MIME_CACHE: Final = "mime_v1"
_CHUNK: Final = 256 * 1024


def structure(
    dynamodb: DynamoDBClient, table: str, objects: Objects, object_key: str
) -> MimeStructure:
    key = codec.reference_key(object_key)
    with aws_errors():
        item = dynamodb.get_item(
            TableName=table,
            Key=key,
            ConsistentRead=True,
            ProjectionExpression="#mime",
            ExpressionAttributeNames={"#mime": MIME_CACHE},
        ).get("Item")
    if item is not None and MIME_CACHE in item:
        return decode(item[MIME_CACHE]["S"])
    found = parse_structure(objects.stream(object_key, chunk_size=_CHUNK))
    with aws_errors():
        try:
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #mime = :mime",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#mime": MIME_CACHE, "#pk": schema.PK},
                ExpressionAttributeValues={":mime": codec.s(encode(found))},
            )
        except ClientError as error:  # the object lost its last reference meanwhile: no cache
            if error_code(error) != "ConditionalCheckFailedException":
                raise
    return found


def encode(found: MimeStructure) -> str:
    parts = [[p.id, p.content_type, p.start, p.end, p.filename] for p in found.parts]
    return json.dumps({"parts": parts, "complete": found.complete}, separators=(",", ":"))


def decode(text: str) -> MimeStructure:
    data = json.loads(text)
    return MimeStructure(
        tuple(
            MimePart(id_, type_, start, end, name) for id_, type_, start, end, name in data["parts"]
        ),
        complete=data["complete"],
    )
