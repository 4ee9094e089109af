"""GET and HEAD .../raw: the stored octets with an entity tag, conditional requests and byte
ranges (RFC 9110 §8.8.3, §13, §14), a safe Content-Disposition, the security headers on every
reply; and a 100 MB message streamed by uvicorn in bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from popdrop.admin import delivery
from popdrop.ingest import ingest
from popdrop.settings import Settings
from popdrop.store import Store
from tests.support import free_port

from .helpers import ADDRESS, TOKEN, assert_problem, put_message

MESSAGES = f"/v1/mailboxes/{ADDRESS}/messages"
DATA = b"From: bob@example.org\r\nSubject: raw\r\n\r\n" + b"0123456789" * 100 + b"\r\n"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture
def raw(admin: TestClient, store: Store) -> str:
    put_message(store, "u1", DATA, arrived_at=1)
    return f"{MESSAGES}/u1/raw"


def test_head_answers_get_s_headers_without_a_body(admin: TestClient, raw: str) -> None:
    got, head = admin.get(raw), admin.head(raw)
    assert (head.status_code, head.content) == (200, b"")
    for name in ("etag", "content-length", "content-type", "content-disposition", "accept-ranges"):
        assert head.headers[name] == got.headers[name], name
    assert got.headers["content-length"] == str(len(DATA))
    assert got.headers["content-disposition"] == 'attachment; filename="u1.eml"'


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 10), ("bytes=1000-", 1000, len(DATA)), ("bytes=-5", len(DATA) - 5, None)],
)
def test_a_single_byte_range_is_206_with_its_content_range(
    admin: TestClient, raw: str, header: str, start: int, end: int | None
) -> None:
    """RFC 9110 §14.1.2: first-last, first- and the -suffix forms."""
    response = admin.get(raw, headers={"Range": header})
    stop = len(DATA) if end is None else end
    assert response.status_code == 206
    assert response.content == DATA[start:stop]
    assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"


def test_a_range_past_the_end_is_416_and_an_invalid_one_is_ignored(
    admin: TestClient, raw: str
) -> None:
    """RFC 9110 §15.5.17 (416 with `bytes */size`); §14.2 lets a server ignore a Range it does
    not serve (several ranges, a malformed one), and so does a stale If-Range (§13.1.5)."""
    response = admin.get(raw, headers={"Range": f"bytes={len(DATA)}-"})
    assert_problem(response, 416, "range-not-satisfiable")
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"
    for headers in (
        {"Range": "bytes=0-1,5-6"},
        {"Range": "lines=1-2"},
        {"Range": "bytes=0-9", "If-Range": '"another"'},
    ):
        whole = admin.get(raw, headers=headers)
        assert (whole.status_code, whole.content) == (200, DATA)


def test_if_none_match_with_the_entity_tag_is_304(admin: TestClient, raw: str) -> None:
    """RFC 9110 §13.1.2: a message never changes, so its strong tag is stable."""
    tag = admin.get(raw).headers["etag"]
    assert admin.get(raw).headers["etag"] == tag
    response = admin.get(raw, headers={"If-None-Match": f'"other", {tag}'})
    assert (response.status_code, response.content) == (304, b"")
    assert admin.get(raw, headers={"If-None-Match": '"other"'}).status_code == 200
    assert admin.get(raw, headers={"Range": "bytes=0-1", "If-Range": tag}).status_code == 206


@pytest.mark.parametrize(
    "path", ["/health", "/v1/mailboxes", MESSAGES + "/u1/raw", "/v1/nothing", "/", "/docs"]
)
def test_every_reply_carries_the_security_headers(admin: TestClient, raw: str, path: str) -> None:
    response = admin.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (path, name)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    assert response.headers["cache-control"]


def _peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_100_mb_raw_download_under_uvicorn_grows_the_process_by_less_than_32_mb(
    store: Store, settings: Settings, moto: str
) -> None:
    """The issue's bound: `popdrop api` (uvicorn) streams the S3 object chunk by chunk with the
    client's back-pressure; it never holds the message."""
    size = 100 * 1024 * 1024
    line = b"y" * 1022 + b"\r\n"
    key = store.put_incoming("big", b"Subject: big\r\n\r\n" + line * (size // 1024))
    # Over SES's 40 MB, ingest quarantines it; a release files it past the limit.
    assert ingest(store, message_id="big", object_key=key, recipients=[ADDRESS], arrived_at=1)
    delivery.release(store, ADDRESS, "big")
    put_message(store, "small", DATA, arrived_at=2)
    port = free_port()
    env = {
        **os.environ,
        "POPDROP_TABLE": settings.table,
        "POPDROP_BUCKET": settings.bucket,
        "POPDROP_API_TOKEN": TOKEN,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "popd.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"})
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "popdrop api exited"
            assert time.monotonic() < deadline, "popdrop api did not start"
            time.sleep(0.1)
        assert client.get(f"{MESSAGES}/small/raw").content == DATA  # warm: imports, clients
        before = _peak_rss(server.pid)
        received = 0
        with client.stream("GET", f"{MESSAGES}/big/raw", timeout=120) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += len(chunk)
        growth = _peak_rss(server.pid) - before
        print(f"peak RSS growth for a {received} byte download: {growth / 2**20:.1f} MiB")
        assert received == int(response.headers["content-length"]) > size - 1024
        assert growth < 32 * 1024 * 1024
    finally:
        server.terminate()
        server.wait(timeout=30)
