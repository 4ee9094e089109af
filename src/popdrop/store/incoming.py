"""The incoming prefix, listed: what SES (or `put_incoming`) stored there, for gc and reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from popdrop.faces.ingest import IncomingObject
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def listing(s3: S3Client, bucket: str, prefix: str) -> Iterator[IncomingObject]:
    """Every object under the prefix, one ListObjectsV2 per 1000 keys."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    with aws_errors():
        for page in pages:
            for obj in page.get("Contents", []):
                modified = int(obj["LastModified"].timestamp() * 1000)
                yield IncomingObject(obj["Key"], obj["Size"], modified)
