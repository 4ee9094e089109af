"""botocore's failures translated into the store's errors, in one place."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoRegionError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from popdrop.faces.faults import StorageUnavailable, StoreError

T = TypeVar("T")

# Error codes that mean "try again later" for S3 and DynamoDB. botocore retried these already;
# reaching us means its retry budget is spent.
_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalServerError",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "ServiceUnavailable",
        "SlowDown",
        "ThrottlingException",
        "TransactionInProgressException",
    }
)
_TRANSIENT_TRANSPORT = (EndpointUnreachable, HTTPClientError, IncompleteReadError)


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _is_transient(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status >= 500 or error_code(error) in _TRANSIENT_CODES


@contextmanager
def aws_errors() -> Iterator[None]:
    """Re-raise botocore exceptions from the block as `StorageUnavailable` or `StoreError`."""
    try:
        yield
    except ClientError as error:
        kind = StorageUnavailable if _is_transient(error) else StoreError
        raise kind(str(error)) from error
    except _TRANSIENT_TRANSPORT as error:
        raise StorageUnavailable(str(error)) from error
    except NoRegionError as error:
        # boto3 reads AWS_DEFAULT_REGION (or a profile's region); AWS_REGION alone, which Lambda
        # and some other SDKs read, is not enough.
        raise StoreError(
            "no AWS region is configured: set AWS_DEFAULT_REGION (and AWS_REGION) to the stack's "
            "region, or a region in your AWS profile"
        ) from error
    except BotoCoreError as error:
        raise StoreError(str(error)) from error


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Split `items` into runs of at most `size`: AWS caps the items per request."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
