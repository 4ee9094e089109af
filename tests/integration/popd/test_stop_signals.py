"""`popdrop serve` and SIGTERM (issue 11): honoured during start-up, and a drain that has to cut a
session logs no ERROR and no traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from popdrop.auth.passwords import hash_password
from popdrop.store import Store
from tests.conftest import AWS_ENV
from tests.support import RawClient, free_port, take_lease

ADDRESS, PASSWORD = "alice@example.test", "a long enough password"
# Secrets Manager's answer to GetSecretValue for a secret that does not exist (a 400: no retry).
_BODY = b'{"__type":"ResourceNotFoundException","message":"Secrets Manager cannot find it"}'
NOT_FOUND = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n"
    + f"Content-Length: {len(_BODY)}\r\nConnection: close\r\n\r\n".encode()
    + _BODY
)


def serve(env: dict[str, str], pop3: int, pop3s: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "popd.cli", "serve", "--host", "127.0.0.1"]
    command += ["--pop3-port", str(pop3), "--pop3s-port", str(pop3s)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def log_lines(stderr: bytes) -> list[dict[str, Any]]:
    lines = []
    for line in stderr.decode().splitlines():
        assert line.startswith("{"), f"not a JSON log line: {line}"
        lines.append(json.loads(line))
    return lines


def test_sigterm_while_start_up_waits_on_aws_stops_the_daemon_cleanly() -> None:
    """The certificate read is the first thing start-up does; a SIGTERM that arrives while it
    waits on AWS stops popd at once with status 0. Before, the handlers were installed only after
    start-up, and in a container (PID 1) the signal was ignored until ECS's SIGKILL."""
    with socket.create_server(("127.0.0.1", 0)) as endpoint:
        endpoint.settimeout(30)
        env = {
            **os.environ,
            **AWS_ENV,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{endpoint.getsockname()[1]}",
            "POPDROP_TLS_SECRET": "popd-certificate",
        }
        process = serve(env, free_port(), free_port())
        try:
            request, _ = endpoint.accept()  # start-up is now waiting for GetSecretValue
            with request:
                process.send_signal(signal.SIGTERM)
                # Stopped without waiting for AWS's answer, which never comes.
                _, stderr = process.communicate(timeout=30)
                request.sendall(NOT_FOUND)
        finally:
            process.kill()
    assert process.returncode == 0, stderr.decode()[-2000:]
    events = [line["event"] for line in log_lines(stderr)]
    assert events[-1] == "popd.stopping"
    assert "popd.listening" not in events


def test_a_drain_that_cuts_a_session_logs_no_error_and_no_traceback(store: Store) -> None:
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    pop3 = free_port()
    env = {
        **os.environ,
        "POPDROP_TABLE": store.table,
        "POPDROP_BUCKET": store.bucket,
        "POPDROP_PLAINTEXT_AUTH": "loopback",
        "POPDROP_DRAIN_SECONDS": "0.5",
    }
    process = serve(env, pop3, free_port())
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1].decode()
            try:
                client = RawClient(pop3)
                break
            except OSError:
                assert time.monotonic() < deadline, "popdrop serve did not listen"
                time.sleep(0.1)
        assert client.line().startswith(b"+OK")
        assert client.command(f"USER {ADDRESS}").startswith(b"+OK")
        assert client.command(f"PASS {PASSWORD}").startswith(b"+OK")  # holds the lease now
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    text = stderr.decode()
    assert "Traceback" not in text and "CancelledError" not in text, text[-3000:]
    lines = log_lines(stderr)
    assert not [line for line in lines if line["level"] in {"error", "critical"}]
    [logout] = [line for line in lines if line["event"] == "pop3.logout"]
    assert logout["user"] == ADDRESS  # the cut session, logged like any other, uncommitted
    # glibc's malloc set before any thread started (popd/allocator.py).
    [malloc] = [line for line in lines if line["event"] == "popd.malloc"]
    assert malloc["MALLOC_MMAP_THRESHOLD_"] == 4 * 1024 * 1024 and malloc["MALLOC_ARENA_MAX"] == 2
    assert take_lease(store, ADDRESS, "next-session") is not None  # released
    assert client.sock.recv(100) == b""
    client.close()
