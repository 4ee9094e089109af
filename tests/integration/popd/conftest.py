from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


@pytest.fixture
def daemon(store: Store, ca: trustme.CA, tmp_path: Path) -> Iterator[Daemon]:
    """The daemon on free loopback ports, a trustme certificate, and one mailbox (ADDRESS)."""
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    settings = Settings(
        host="127.0.0.1",
        pop3_port=0,
        pop3s_port=0,
        tls_cert=cert_file,
        tls_key=key_file,
        plaintext_auth=PlaintextAuth.LOOPBACK,
        idle_timeout=30,
    )
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    with running_daemon(settings, store) as endpoints:
        yield Daemon(endpoints, store, ca, ca_file)
