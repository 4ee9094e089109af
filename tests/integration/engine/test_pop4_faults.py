"""POP4's commit under the fault harness (docs/pop4.md, "The commit at QUIT"): whichever AWS call
of a QUIT with folder changes fails (or takes effect while its answer is lost), no message is lost
or doubled, a moved message is in exactly one folder, and the reply says whether it was committed;
a holder whose lease was taken over commits nothing (DESIGN invariant 3)."""

from __future__ import annotations

import time

import pytest

from popdrop.model import Address
from popdrop.store import Store
from tests.support import RawClient, deliver, running_daemon, take_lease

from .conftest import PASSWORD, StartDaemon, daemon_settings, login
from .faults import Fault, unretried_store

MESSAGE = b"Subject: hi\r\n\r\nHello.\r\n"
# A QUIT that creates a folder, moves one message into it and copies another: the directory's
# transaction, the messages' transaction, the lease's release (the daemon's heartbeat keeps the
# lease: nothing renews it per session).
QUIT_CALLS = 3


def _changes(client: RawClient) -> None:
    for command in ("CFLD news", "MOVE 1 news", "COPY 2 news"):
        assert client.command(command).startswith(b"+OK")


def _where(store: Store, mailbox: Address) -> dict[str, list[str]]:
    """Each folder's uids."""
    return {
        folder.name: sorted(entry.uid for entry in store.list_folder(mailbox, folder.id))
        for folder in store.list_folders(mailbox)
    }


@pytest.mark.parametrize("fault", [Fault.FAIL, Fault.KILL_AFTER], ids=lambda f: f.value)
@pytest.mark.parametrize("at", range(QUIT_CALLS))
def test_a_quit_with_folder_changes_loses_and_doubles_nothing_whichever_call_fails(
    store: Store, mailbox: str, fault: Fault, at: int
) -> None:
    address = Address(mailbox)
    first, second = deliver(store, MESSAGE, address), deliver(store, MESSAGE, address)
    faulty, faults = unretried_store(store)
    with running_daemon(daemon_settings(lease_wait_seconds=0, pop4=True), faulty) as endpoints:
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        _changes(client)
        faults.arm(fault, at=at)
        try:
            answer = client.command("QUIT")
        except ConnectionError:  # the "process" died: no answer at all
            answer = b""
        client.close()

    where = _where(store, address)
    everywhere = [uid for uids in where.values() for uid in uids]
    assert everywhere.count(first) == 1  # moved or not, never lost or doubled
    assert where["INBOX"].count(second) == 1
    committed = "news" in where and first in where["news"]
    if committed:
        assert len(where["news"]) == 2  # the move and the copy went together
    else:
        assert where.get("news", []) == []  # at most an empty folder, no message
    if answer:  # an answer tells the truth: +OK exactly when it was committed
        assert answer.startswith(b"+OK") == committed
        assert committed or answer.startswith(b"-ERR [SYS/TEMP]")
    else:
        assert fault is Fault.KILL_AFTER


def test_a_holder_that_lost_its_lease_commits_no_folder_change_design_invariant_3(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    address = Address(mailbox)
    deliver(store, MESSAGE, address)
    deliver(store, MESSAGE, address)
    with start_daemon(lease_seconds=30, pop4=True) as endpoints:
        holder, _ = login(endpoints.pop3_port)
        _changes(holder)
        assert holder.command("DELE 2").startswith(b"+OK")
        assert take_lease(store, address, "successor", seconds=30, now=time.time() + 31)
        assert holder.command("QUIT").startswith(b"-ERR [SYS/TEMP]")
        holder.close()
    assert [(f.name, f.messages) for f in store.list_folders(address)] == [
        ("INBOX", 2),
        ("Quarantine", 0),
    ]


def test_a_login_with_pop4_on_is_unchanged_for_the_password_check(
    start_daemon: StartDaemon, mailbox: str
) -> None:
    with start_daemon(pop4=True) as endpoints:
        client, reply = login(endpoints.pop3_port, password=PASSWORD + "x")
        assert reply.startswith(b"-ERR [AUTH]")
        client.close()
