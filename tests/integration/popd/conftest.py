from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from popd.server import Endpoints
from popdrop.auth.passwords import hash_password
from popdrop.store import Store
from tests.support import daemon_settings, running_daemon

ADDRESS = "alice@example.test"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Daemon:
    endpoints: Endpoints
    store: Store
    ca: trustme.CA
    ca_file: Path


@pytest.fixture
def daemon(store: Store, ca: trustme.CA, tmp_path: Path) -> Iterator[Daemon]:
    """The daemon on free loopback ports, a trustme certificate, and one mailbox (ADDRESS)."""
    settings = daemon_settings(ca, tmp_path)
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    with running_daemon(settings, store) as endpoints:
        yield Daemon(endpoints, store, ca, tmp_path / "ca.pem")
