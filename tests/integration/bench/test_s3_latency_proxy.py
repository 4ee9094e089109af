"""bench/s3_latency_proxy.py (issue 7): S3 and DynamoDB requests pass through it unchanged, and
only GetObject waits for the first-byte delay."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from popdrop.settings import Settings
from popdrop.store import Store
from tests.support import stored_object

PROXY = Path(__file__).resolve().parents[3] / "bench" / "s3_latency_proxy.py"
sys.path.insert(0, str(PROXY.parent))

from s3_latency_proxy import is_get_object  # noqa: E402


@pytest.fixture
def proxied_store(moto: str) -> Iterator[Store]:
    """A Store whose clients go through the proxy to the reset moto server."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(PROXY),
            "--upstream",
            moto.removeprefix("http://"),
            "--delay-ms",
            "5",
            "--jitter-ms",
            "2",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", url)
            store = Store.from_settings(Settings())
            store.create_resources()
            yield store
    finally:
        process.terminate()
        process.wait(10)


def test_objects_and_items_round_trip_through_the_proxy(proxied_store: Store) -> None:
    data = b"Subject: through the proxy\r\n\r\n" + b"x" * 300_000 + b"\r\n"
    key = proxied_store.put_incoming("msg-proxy-1", data)

    assert stored_object(proxied_store, key) == data
    assert b"".join(proxied_store.iter_object(key)) == data
    assert proxied_store.list_mailboxes() == []


@pytest.mark.parametrize(
    ("head", "delayed"),
    [
        (b"GET /bucket/incoming/abc HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"GET /bucket/incoming/abc?partNumber=1 HTTP/1.1\r\n\r\n", True),
        (b"GET /bucket?list-type=2&prefix=incoming/ HTTP/1.1\r\n\r\n", False),
        (b"GET /bucket HTTP/1.1\r\n\r\n", False),
        (b"PUT /bucket/incoming/abc HTTP/1.1\r\nContent-Length: 3\r\n\r\n", False),
        (b"POST / HTTP/1.1\r\nX-Amz-Target: DynamoDB_20120810.Query\r\n\r\n", False),
    ],
)
def test_only_get_object_requests_are_delayed(head: bytes, delayed: bool) -> None:
    assert is_get_object(head) is delayed
