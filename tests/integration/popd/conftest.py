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


DaemonFactory = Callable[..., Daemon]


@pytest.fixture
def daemon_factory(store: Store, ca: trustme.CA, tmp_path: Path) -> Iterator[DaemonFactory]:
    """Start daemons on free loopback ports with a trustme certificate, one mailbox (ADDRESS),
    and any Settings fields overridden; all are stopped after the test."""
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    with contextlib.ExitStack() as running:

        def start(**overrides: Any) -> Daemon:
            settings = daemon_settings(ca, tmp_path, **overrides)
            endpoints = running.enter_context(running_daemon(settings, store))
            return Daemon(endpoints, store, ca, tmp_path / "ca.pem")

        yield start


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> Daemon:
    """The daemon with the default test settings."""
    return daemon_factory()
