"""Real POP3 client programs against the daemon on loopback (issue 3).

Every client test runs the same three rounds (`exercise`): a keeping run retrieves the whole
corpus, the 10 MiB message included; a second keeping run retrieves nothing (UIDL); then, after a
second delivery of the small corpus, a deleting run retrieves only the new messages and deletes
them (and, for some clients, the earlier ones too). A client's program missing here fails its
test naming the install command (`tests.support.client_program`); CI installs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from popd.server import Endpoints
from popdrop.auth.passwords import hash_password
from popdrop.store import Store
from tests.clients.corpus import BIG, SMALL, stored
from tests.integration.popd.conftest import ADDRESS, PASSWORD
from tests.support import daemon_settings, deliver, running_daemon, stored_object


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this directory `clients`, so `-m "not clients"` can leave them out."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.clients)


# A client's run: keep or delete what it retrieves; returns the messages it retrieved, with the
# client's own transformations undone.
Run = Callable[[bool], list[bytes]]


@dataclass(frozen=True)
class Server:
    endpoints: Endpoints
    store: Store
    ca_file: Path
    user: str = ADDRESS
    password: str = PASSWORD

    @property
    def pop3s_port(self) -> int:
        assert self.endpoints.pop3s_port is not None
        return self.endpoints.pop3s_port


@pytest.fixture(params=[False, True], ids=["pop4-off", "pop4-on"])
def server(
    store: Store, ca: trustme.CA, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """The daemon (STLS, POP3S with a trustme CA, plaintext allowed from loopback) and a mailbox;
    every client runs with the POP4 extension off and on, and must see the same (docs/pop4.md)."""
    # curl opens a connection per command: no per-address connection rate for these tests.
    settings = daemon_settings(ca, tmp_path, idle_timeout=60, connection_rate=0, pop4=request.param)
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    with running_daemon(settings, store) as endpoints:
        yield Server(endpoints, store, tmp_path / "ca.pem")


def messages(store: Store) -> list[bytes]:
    return [stored_object(store, entry.object_key) for entry in store.list_messages(ADDRESS)]


def deliver_all(store: Store, sources: list[bytes]) -> list[bytes]:
    """Deliver as `popdrop deliver` does (canonical form); return what RETR will send."""
    for source in sources:
        deliver(store, stored(source), ADDRESS)
    return [stored(source) for source in sources]


def exercise(server: Server, run: Run, *, deletes_seen: bool = False) -> None:
    """The three rounds. `deletes_seen`: the client's deleting run also deletes what it retrieved
    in earlier keeping runs (mpop does), not only what it retrieves in that run."""
    first = deliver_all(server.store, [*SMALL.values(), BIG])
    kept = run(True)
    assert sorted(kept) == sorted(first), "the keeping run did not retrieve the corpus byte-exact"
    assert messages(server.store) == first  # kept: nothing deleted
    assert run(True) == [], "a second keeping run retrieved again: UIDL was not honoured"
    second = deliver_all(server.store, list(SMALL.values()))
    deleted = run(False)
    assert sorted(deleted) == sorted(second), "the deleting run did not retrieve the new messages"
    # Only what the client chose to delete is gone (RFC 1939 §6: DELE, then QUIT).
    assert messages(server.store) == ([] if deletes_seen else first)
