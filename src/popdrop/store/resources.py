"""Create the bucket and the table, idempotently: for the local stack and tests.

In AWS, `template.yaml` deploys the same resources (the table from `schema.TABLE_DEFINITION`).
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, cast

from popdrop.store import schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TimeToLiveSpecificationTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType


def create_bucket(s3: S3Client, bucket: str) -> None:
    """The bucket, with default server-side encryption (objects are encrypted at rest)."""
    with aws_errors():
        region = s3.meta.region_name
        with suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            if region == "us-east-1":  # the one region that rejects an explicit LocationConstraint
                s3.create_bucket(Bucket=bucket)
            else:
                location = cast("BucketLocationConstraintType", region)
                s3.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": location}
                )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )


def create_table(dynamodb: DynamoDBClient, table: str) -> None:
    """The table from `schema.TABLE_DEFINITION`, active, with TTL on `schema.TTL_ATTRIBUTE`."""
    with aws_errors():
        with suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(TableName=table, **schema.TABLE_DEFINITION)
        dynamodb.get_waiter("table_exists").wait(TableName=table)
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        # Enabling TTL again is an error in AWS, so only when it is off.
        if ttl.get("TimeToLiveStatus") == "DISABLED":
            specification = cast("TimeToLiveSpecificationTypeDef", schema.TIME_TO_LIVE)
            dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=specification)
