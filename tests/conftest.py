"""Shared fixtures: one moto server for the whole run (reset between tests), AWS settings for it.

moto's server runs in a thread on a free loopback port, so code in other threads (the daemon's
executor) and other processes (`popdrop` subprocesses) reach the same state through
AWS_ENDPOINT_URL, exactly like a real endpoint.
"""

from __future__ import annotations

import functools
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import boto3
import pytest
import trustme
from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer

from popdrop.settings import Settings
from popdrop.store import Store
from popdrop.store.arrivals import Arrivals

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's dummy credentials
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Start moto's server on 127.0.0.1 and a free port; point every AWS client at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {key: os.environ.get(key) for key in [*AWS_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture
def moto(moto_endpoint: str) -> str:
    """A moto server with empty state (reset before the test)."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_endpoint


class AwsClients(NamedTuple):
    s3: Any
    dynamodb: Any


class AwsCall(NamedTuple):
    operation: str  # e.g. "GetObject", "TransactWriteItems"
    headers: dict[str, str]  # the request's headers as serialised (a GetObject's Range, say)


@pytest.fixture
def aws_clients(moto: str) -> AwsClients:
    """Plain boto3 clients for the reset moto server (the `store` fixture's own)."""
    return AwsClients(s3=boto3.client("s3"), dynamodb=boto3.client("dynamodb"))


@pytest.fixture
def store(aws_clients: AwsClients) -> Store:
    """A Store on the reset moto server, named by `Settings()`, with its bucket and table made."""
    return made_store(aws_clients)


def made_store(aws_clients: AwsClients, arrivals: Arrivals | None = None) -> Store:
    """A Store named by `Settings()` on these clients (with `arrivals`, the reconcile sweep's
    queue), its resources made."""
    settings = Settings()
    store = Store(
        s3=aws_clients.s3,
        dynamodb=aws_clients.dynamodb,
        table=settings.table,
        bucket=settings.bucket,
        incoming_prefix=settings.incoming_prefix,
        arrivals=arrivals,
    )
    store.create_resources()
    return store


@pytest.fixture
def aws_calls(store: Store, aws_clients: AwsClients) -> list[AwsCall]:
    """Every AWS API call the `store` fixture's clients make from now on (botocore's
    `before-call` event: one per call, not per HTTP retry), so tests can count requests."""
    calls: list[AwsCall] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append(AwsCall(model.name, dict(params.get("headers", {}))))

    for client in aws_clients:
        client.meta.events.register("before-call.*.*", record)
    return calls


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A certificate authority for test certificates (trustme)."""
    return trustme.CA()


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give moto's DynamoDB the atomicity of the real one for concurrent writers.

    DynamoDB evaluates a condition and writes the item as one step; moto's threaded server runs
    requests in parallel threads without a lock, so two conditional updates of one item can both
    pass their condition. Tests whose subject is that atomicity (the lease race, concurrent ingest
    runs of one message) serialise moto's writes, as DynamoDB serialises writes to an item.
    """
    lock = threading.RLock()

    def serialised(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))
