"""popdrop under test: moto's server and `popdrop serve`, each its own subprocess, on loopback.

The mail is filled through the real ingest path (`put_incoming` + `ingest`, as SES and the ingest
Lambda would). Only the `popdrop serve` process is measured; moto's CPU is not popdrop's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from corpus import PASSWORD, Layout, message
from loadgen import LOOPBACK, ServerProbe, Target

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {START_TIMEOUT} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def aws_environment(endpoint: str) -> dict[str, str]:
    # moto accepts any access key: these fixed values grant nothing anywhere else.
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POPDROP_TABLE": "popdrop-bench",
        "POPDROP_BUCKET": "popdrop-bench-mail",
    }


@contextmanager
def moto_server(workdir: Path) -> Iterator[str]:
    port = free_port()
    log = (workdir / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, "moto")
        yield f"http://{LOOPBACK}:{port}"
    finally:
        stop(process)
        log.close()


def fill(endpoint: str, layout: Layout, workers: int = 8) -> None:
    """Create the bucket, table, mailboxes, and deliver every message through ingest."""
    os.environ.update(aws_environment(endpoint))
    from popdrop.auth.passwords import hash_password  # noqa: PLC0415 - after the environment
    from popdrop.auth.scram import derive_keys  # noqa: PLC0415
    from popdrop.ingest import ingest, new_message_id  # noqa: PLC0415
    from popdrop.logfmt import now_ms  # noqa: PLC0415
    from popdrop.settings import Settings  # noqa: PLC0415
    from popdrop.store import Store  # noqa: PLC0415

    store = Store.from_settings(Settings())
    store.create_resources()
    hashed, keys = hash_password(PASSWORD), derive_keys(PASSWORD)

    def store_object(delivery: tuple[str, int, int]) -> tuple[str, str, str]:
        address, number, size = delivery
        message_id = new_message_id()
        return address, message_id, store.put_incoming(message_id, message(number, size, address))

    for address in layout.mailboxes():
        store.create_mailbox(address, hashed, keys)
    deliveries = [
        (address, number, size)
        for address, messages in layout.mailboxes().items()
        for number, size in messages
    ]
    # The objects in parallel (SES's part); ingest one at a time, in order, because moto's
    # DynamoDB transactions fail (HTTP 500) under concurrency.
    with ThreadPoolExecutor(workers) as pool:
        stored = list(pool.map(store_object, deliveries))
    for address, message_id, key in stored:
        ingest(
            store, message_id=message_id, object_key=key, recipients=[address], arrived_at=now_ms()
        )


@dataclass(frozen=True, slots=True)
class Popdrop:
    target: Target
    process: subprocess.Popen[bytes]


@contextmanager
def popdrop_serve(
    workdir: Path, endpoint: str, name: str = "popdrop", prefix: Sequence[str] = ()
) -> Iterator[Popdrop]:
    """`popdrop serve` against `endpoint` (moto, or the latency proxy in front of it); `prefix`
    runs it under another program (a profiler)."""
    from popd.tls import write_self_signed  # noqa: PLC0415

    cert, key = write_self_signed(workdir / name)
    port, tls_port = free_port(), free_port()
    environment = (
        os.environ
        | aws_environment(endpoint)
        | {
            "POPDROP_HOST": LOOPBACK,
            "POPDROP_TLS_CERT": str(cert),
            "POPDROP_TLS_KEY": str(key),
            "POPDROP_PLAINTEXT_AUTH": "loopback",
            # The per-address limits would throttle a load generator on one address: the
            # connection rate, and the sessions held at once (the idle scenarios hold 10,000).
            "POPDROP_CONNECTION_RATE": "0",
            "POPDROP_MAX_SESSIONS_PER_ADDRESS": "100000",
        }
    )
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [
            *prefix,
            str(BIN / "popdrop"),
            "serve",
            "--pop3-port",
            str(port),
            "--pop3s-port",
            str(tls_port),
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, "popdrop serve")
        wait_for_port(tls_port, process, "popdrop serve (pop3s)")
        yield Popdrop(Target(name, port, tls_port, ServerProbe(process.pid)), process)
    finally:
        stop(process)
        log.close()
