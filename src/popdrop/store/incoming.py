"""The incoming prefix as ingest and reconcile see it: tails, in-place rewrites, a listing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from popdrop.store.aws import aws_errors, error_code
from popdrop.store.errors import ObjectNotFound

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True, slots=True)
class IncomingObject:
    key: str
    size: int
    modified_ms: int  # LastModified, epoch milliseconds


class Incoming:
    def __init__(self, s3: S3Client, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def tail(self, key: str, length: int) -> bytes:
        """The last `length` octets (a suffix range GET); fewer when the object is shorter."""
        with aws_errors():
            try:
                response = self._s3.get_object(
                    Bucket=self._bucket, Key=key, Range=f"bytes=-{length}"
                )
            except self._s3.exceptions.NoSuchKey:
                raise ObjectNotFound(key) from None
            except self._s3.exceptions.ClientError as error:
                if error_code(error) == "InvalidRange":  # an empty object
                    return b""
                raise
            body = response["Body"]
            try:
                return body.read(length)
            finally:
                body.close()

    def read(self, key: str) -> bytes:
        with aws_errors():
            try:
                response = self._s3.get_object(Bucket=self._bucket, Key=key)
            except self._s3.exceptions.NoSuchKey:
                raise ObjectNotFound(key) from None
            body = response["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def replace(self, key: str, data: bytes) -> None:
        with aws_errors():
            self._s3.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType="message/rfc822"
            )

    def listing(self) -> Iterator[IncomingObject]:
        """Every object under the prefix, one ListObjectsV2 per 1000 keys."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=self._prefix
        )
        with aws_errors():
            for page in pages:
                for obj in page.get("Contents", []):
                    modified = int(obj["LastModified"].timestamp() * 1000)
                    yield IncomingObject(obj["Key"], obj["Size"], modified)
