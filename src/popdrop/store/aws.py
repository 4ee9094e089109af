"""The store's botocore session, and botocore's failures translated into the store's errors, in
one place."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoRegionError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable
from botocore.loaders import Loader
from botocore.session import Session

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


# The services the store builds clients for.
_SERVICES = ("dynamodb", "s3", "sqs", "events")


class _StoreModels(Loader):
    """botocore's model loader, told that the only services are the store's (DynamoDB and S3; SQS
    and EventBridge for the arrivals queue). The stock one checks a client's service name by
    listing every service botocore knows (about 420 directories, 2,700 file checks) before each
    model it loads: about 0.01 s a client, start-up that every command and cold start pays
    (docs/performance.md)."""

    def list_available_services(self, type_name: str) -> list[str]:
        return list(_SERVICES)


def session() -> Session:
    """A botocore session configured the standard AWS way (region, credentials, AWS_ENDPOINT_URL,
    AWS_DATA_PATH) that loads models as `_StoreModels` does.

    botocore's own session, not boto3's: boto3 adds the resource API and S3's transfer manager,
    which the store does not use, and importing it costs about 0.06 s more."""
    aws = Session()
    stock = aws.get_component("data_loader")
    aws.register_component(
        "data_loader",
        _StoreModels(
            extra_search_paths=list(stock.search_paths), include_default_search_paths=False
        ),
    )
    return aws


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Split `items` into runs of at most `size`: AWS caps the items per request."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class LazyClient:
    """A boto3 client built on first use. Building one loads its service model and endpoint rules
    (about 0.1 s for S3), which an operator command that never touches that service should not
    pay: `popdrop mailbox list` reads only DynamoDB."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build: Callable[[], Any] | None = build
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:  # the daemon's worker threads may all reach it first at once
                if self._build is not None:
                    with aws_errors():
                        self._client = self._build()
                    self._build = None
        return getattr(self._client, name)
