from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from popd.server import Endpoints
from popdrop.auth.passwords import hash_password
from popdrop.settings import PlaintextAuth, Settings
from popdrop.store import Store
from tests.support import running_daemon

ADDRESS = "alice@example.test"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Daemon:
    endpoints: Endpoints
    store: Store
    ca: trustme.CA
    ca_file: Path


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


DaemonFactory = Callable[..., Daemon]


@pytest.fixture
def daemon_factory(store: Store, ca: trustme.CA, tmp_path: Path) -> Iterator[DaemonFactory]:
    """Start daemons on free loopback ports with a trustme certificate, one mailbox (ADDRESS),
    and any Settings fields overridden; all are stopped after the test."""
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    with contextlib.ExitStack() as running:

        def start(**overrides: Any) -> Daemon:
            fields: dict[str, Any] = {
                "host": "127.0.0.1",
                "pop3_port": 0,
                "pop3s_port": 0,
                "tls_cert": cert_file,
                "tls_key": key_file,
                "plaintext_auth": PlaintextAuth.LOOPBACK,
                "idle_timeout": 30,
                "auth_penalty_base": 0,  # failures answered at once unless a test wants delays
            }
            settings = Settings(**(fields | overrides))
            endpoints = running.enter_context(running_daemon(settings, store))
            return Daemon(endpoints, store, ca, ca_file)

        yield start


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> Daemon:
    """The daemon with the default test settings."""
    return daemon_factory()
