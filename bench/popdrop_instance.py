"""popdrop under test: moto's server and `popdrop serve`, each its own subprocess, on loopback.

The mail is filled through the real ingest path (`put_incoming` + `ingest`, as SES and the ingest
Lambda would). Only the `popdrop serve` process is measured; moto's server is the storage host, a
process of its own whose CPU is reported beside popd's, never counted as popdrop's.

popd runs configured for a load test from one address, as Dovecot is (bench/dovecot/instance.py):
no per-address connection rate or session limit, no failed-login penalty, and idle and session
limits long enough to hold 10,000 sessions while they are being opened.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from client import LOOPBACK, Target
from corpus import APP_PASSWORD, PASSWORD, Layout, message
from probe import ServerProbe

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


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
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


@dataclass(frozen=True, slots=True)
class Storage:
    """The storage host: moto's server, its endpoint and its process."""

    endpoint: str
    probe: ServerProbe


# moto's server with `popdrop dev`'s fixes for big tables (bench/moto_host.py).
HOST = Path(__file__).parent / "moto_host.py"


@contextmanager
def moto_server(workdir: Path) -> Iterator[Storage]:
    port = free_port()
    log = (workdir / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(HOST), "-H", LOOPBACK, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, "moto")
        yield Storage(f"http://{LOOPBACK}:{port}", ServerProbe(process.pid))
    finally:
        stop(process)
        log.close()


def fill(endpoint: str, layout: Layout, workers: int = 8) -> None:
    """Create the bucket, table, mailboxes, and deliver every message through ingest."""
    os.environ.update(aws_environment(endpoint))
    from popdrop.auth import app_passwords  # noqa: PLC0415 - after the environment
    from popdrop.auth.passwords import hash_password  # noqa: PLC0415
    from popdrop.auth.scram import derive_keys  # noqa: PLC0415
    from popdrop.ingest import ingest, new_message_id  # noqa: PLC0415
    from popdrop.logfmt import now_ms  # noqa: PLC0415
    from popdrop.model import AppPassword  # noqa: PLC0415
    from popdrop.settings import Settings  # noqa: PLC0415
    from popdrop.store import Store  # noqa: PLC0415

    store = Store.from_settings(Settings())
    store.create_resources()
    hashed, keys = hash_password(PASSWORD), derive_keys(PASSWORD)

    def store_object(delivery: tuple[str, int, int]) -> tuple[str, str, str]:
        address, number, size = delivery
        message_id = new_message_id()
        return address, message_id, store.put_incoming(message_id, message(number, size, address))

    # One hash for every mailbox: the same password, and each login still verifies it afresh.
    app = AppPassword("bench", app_passwords.digest(APP_PASSWORD), created_at=int(time.time()))
    apps = {layout.idle_user(n) for n in range(layout.app_mailboxes)}

    def create(address: str) -> None:
        store.create_mailbox(address, hashed, keys)
        if address in apps:
            store.add_app_password(address, app)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, layout.mailboxes()))
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


# popd configured for a load test from one address (see the module's docstring).
LOAD_TEST = {
    "POPDROP_CONNECTION_RATE": "0",
    "POPDROP_MAX_SESSIONS_PER_ADDRESS": "100000",
    # Held and greeted sessions are opened in bulk from this one address, and wait a long time.
    "POPDROP_MAX_UNAUTHENTICATED_PER_ADDRESS": "100000",
    "POPDROP_LOGIN_TIMEOUT": "3600",
    "POPDROP_AUTH_PENALTY_BASE": "0",
    "POPDROP_IDLE_TIMEOUT": "3600",
    "POPDROP_MAX_SESSION_SECONDS": "7200",
    # Time to release every held session's lease after the bench closes them.
    "POPDROP_DRAIN_SECONDS": "120",
}


@contextmanager
def popdrop_serve(
    workdir: Path,
    storage: Storage | str,
    name: str = "popdrop",
    prefix: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[Popdrop]:
    """`popdrop serve` against the storage host (or the latency proxy in front of it, by URL);
    `prefix` runs it under another program (a profiler), `env` adds to its environment (the
    allocator experiments of docs/performance.md)."""
    endpoint = storage if isinstance(storage, str) else storage.endpoint
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
        }
        | LOAD_TEST
        | dict(env or {})
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
        probe = ServerProbe(process.pid, tree=True)
        storage_probe = None if isinstance(storage, str) else storage.probe
        yield Popdrop(Target(name, port, tls_port, probe, storage=storage_probe), process)
    finally:
        stop(process, timeout=float(LOAD_TEST["POPDROP_DRAIN_SECONDS"]) + 30)
        log.close()
