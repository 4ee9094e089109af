from __future__ import annotations

from collections.abc import Iterator
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


def daemon_settings(ca: trustme.CA, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a daemon on free loopback ports with a trustme certificate (ca.pem beside)."""
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "pop3_port": 0,
        "pop3s_port": 0,
        "tls_cert": cert_file,
        "tls_key": key_file,
        "plaintext_auth": PlaintextAuth.LOOPBACK,
        "idle_timeout": 30,
    }
    return Settings(**{**defaults, **overrides})


@pytest.fixture
def daemon(store: Store, ca: trustme.CA, tmp_path: Path) -> Iterator[Daemon]:
    """The daemon on free loopback ports, a trustme certificate, and one mailbox (ADDRESS)."""
    settings = daemon_settings(ca, tmp_path)
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    with running_daemon(settings, store) as endpoints:
        yield Daemon(endpoints, store, ca, tmp_path / "ca.pem")
