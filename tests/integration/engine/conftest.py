"""Daemons for the maildrop-engine tests: in this process (its AWS calls are countable and can be
failed through botocore's event hooks) and as a `popdrop serve` subprocess on the same moto server
(a second replica)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from popd.server import Endpoints
from popdrop.auth.passwords import hash_password
from popdrop.settings import PlaintextAuth, Settings
from popdrop.store import Store
from tests.support import RawClient, free_port, running_daemon

ADDRESS = "alice@example.test"
PASSWORD = "correct horse battery staple"

StartDaemon = Callable[..., AbstractContextManager[Endpoints]]


def daemon_settings(**overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "pop3_port": 0,
        "plaintext_auth": PlaintextAuth.LOOPBACK,
        "idle_timeout": 30,
        # These tests open many sessions from one address on purpose, many logging in at once.
        "connection_rate": 0,
        "max_unauthenticated_per_address": 1000,
    }
    return Settings(**{**defaults, **overrides})


@pytest.fixture
def mailbox(store: Store) -> str:
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    return ADDRESS


@pytest.fixture
def start_daemon(store: Store, mailbox: str) -> StartDaemon:
    """`with start_daemon(**settings) as endpoints:` a daemon thread using `store`'s clients."""

    @contextmanager
    def start(**overrides: Any) -> Iterator[Endpoints]:
        with running_daemon(daemon_settings(**overrides), store) as endpoints:
            yield endpoints

    return start


@contextmanager
def replica(store: Store, **settings: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`popdrop serve` in a subprocess against the same moto server: (process, POP3 port)."""
    port = free_port()
    env = {
        **os.environ,
        "POPDROP_TABLE": store.table,
        "POPDROP_BUCKET": store.bucket,
        "POPDROP_INCOMING_PREFIX": store.incoming_prefix,
        "POPDROP_HOST": "127.0.0.1",
        "POPDROP_POP3_PORT": str(port),
        "POPDROP_PLAINTEXT_AUTH": "loopback",
        "POPDROP_CONNECTION_RATE": "0",
        "POPDROP_MAX_UNAUTHENTICATED_PER_ADDRESS": "1000",
        **{f"POPDROP_{name.upper()}": value for name, value in settings.items()},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "popd.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # 30 s at most
        assert process.poll() is None, "popdrop serve exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise AssertionError("popdrop serve did not start listening")


def login(port: int, user: str = ADDRESS, password: str = PASSWORD) -> tuple[RawClient, bytes]:
    """Connect and send USER/PASS; the PASS reply decides whether the session holds the maildrop."""
    client = RawClient(port)
    assert client.line().startswith(b"+OK")
    assert client.command(f"USER {user}").startswith(b"+OK")
    return client, client.command(f"PASS {password}")
