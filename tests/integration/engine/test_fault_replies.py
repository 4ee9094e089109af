"""Every fault kind the daemon's storage face raises, met by every command that can meet it, gets
one reply: the one `popdrop.pop3.faults` gives (RFC 3206 §4: [SYS/TEMP] when retrying may help,
[SYS/PERM] when it will not), whichever way the command came (PASS, APOP or AUTH for a login).

The faults are real: AWS's answers injected at the wire of a daemon's own clients (a 500, an
AccessDenied), an object deleted behind the session's back, a lease taken over by another
session, an S3 delete that fails after the commit's transactions."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3
import pytest

from popdrop.auth.apop import apop_digest
from popdrop.store import Store
from tests.support import RawClient, deliver, running_daemon, take_lease

from .conftest import ADDRESS, PASSWORD, daemon_settings
from .faults import Fault, FaultInjector, unretried_store

MESSAGE = b"Subject: hi\r\n\r\nHello.\r\n"
APOP_SECRET = "tanstaaf"
SIGN_OFF = b"+OK popdrop POP3 signing off.\r\n"

# The replies, written out here from docs/pop3.md ("Replies to storage faults").
LOGIN_REPLIES = {
    "transient": b"-ERR [SYS/TEMP] Try again later.\r\n",
    "permanent": b"-ERR [SYS/PERM] Maildrop unavailable.\r\n",
}
RETRIEVE_REPLIES = {
    "transient": b"-ERR [SYS/TEMP] Message unavailable; try again later.\r\n",
    "permanent": b"-ERR [SYS/PERM] Message unavailable.\r\n",
    "object-missing": b"-ERR [SYS/PERM] Message unavailable.\r\n",
}
COMMIT_REPLIES = {
    "transient": b"-ERR [SYS/TEMP] Some deleted messages not removed.\r\n",
    "permanent": b"-ERR [SYS/PERM] Some deleted messages not removed.\r\n",
    "lease-lost": b"-ERR [SYS/TEMP] Some deleted messages not removed.\r\n",
    "cleanup-pending": SIGN_OFF,  # the messages are deleted; gc takes their objects later
}
KINDS = {"transient": Fault.FAIL, "permanent": Fault.DENY}


@contextmanager
def faulty_daemon(store: Store) -> Iterator[tuple[int, FaultInjector]]:
    """A daemon on clients without botocore's retries (as if their budget were spent), APOP on."""
    faulty, faults = unretried_store(store)
    settings = daemon_settings(lease_wait_seconds=0, apop=True)
    with running_daemon(settings, faulty) as endpoints:
        yield endpoints.pop3_port, faults


def _pass(client: RawClient, greeting: bytes) -> bytes:
    assert client.command(f"USER {ADDRESS}").startswith(b"+OK")
    return client.command(f"PASS {PASSWORD}")


def _apop(client: RawClient, greeting: bytes) -> bytes:
    timestamp = greeting.split()[-1].decode()
    return client.command(f"APOP {ADDRESS} {apop_digest(timestamp, APOP_SECRET)}")


def _auth_plain(client: RawClient, greeting: bytes) -> bytes:
    response = base64.b64encode(f"\0{ADDRESS}\0{PASSWORD}".encode()).decode()
    return client.command(f"AUTH PLAIN {response}")


LOGINS: dict[str, Callable[[RawClient, bytes], bytes]] = {
    "PASS": _pass,
    "APOP": _apop,
    "AUTH": _auth_plain,
}


@pytest.fixture
def mailbox_with_a_message(store: Store, mailbox: str) -> str:
    store.set_apop_secret(mailbox, APOP_SECRET)
    deliver(store, MESSAGE, mailbox)
    return mailbox


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step", ["GetItem", "Query"], ids=["credentials", "listing"])
@pytest.mark.parametrize("command", LOGINS)
def test_a_login_that_meets_a_fault_gets_its_one_reply_rfc3206_s4(
    store: Store, mailbox_with_a_message: str, command: str, step: str, kind: str
) -> None:
    """The credentials' read (inside the SASL exchange for AUTH) or the snapshot's listing fails;
    the client may try again (RFC 1939 §4)."""
    with faulty_daemon(store) as (port, faults):
        client = RawClient(port)
        greeting = client.line()
        faults.arm(KINDS[kind], operation=step)
        assert LOGINS[command](client, greeting) == LOGIN_REPLIES[kind]
        faults.disarm()
        assert LOGINS[command](client, greeting).startswith(b"+OK")
        assert client.command("QUIT") == SIGN_OFF
        client.close()


@pytest.mark.parametrize("kind", [*KINDS, "object-missing"])
@pytest.mark.parametrize("command", ["RETR 1", "TOP 1 0"])
def test_a_retrieval_that_meets_a_fault_gets_its_one_reply_rfc3206_s4(
    store: Store, mailbox_with_a_message: str, command: str, kind: str
) -> None:
    """Before the status line: -ERR, and the session goes on."""
    with faulty_daemon(store) as (port, faults):
        client = RawClient(port)
        assert _pass(client, client.line()).startswith(b"+OK")
        if kind == "object-missing":
            [entry] = store.list_messages(ADDRESS)
            boto3.client("s3").delete_object(Bucket=store.bucket, Key=entry.object_key)
        else:
            faults.arm(KINDS[kind], operation="GetObject")
        assert client.command(command) == RETRIEVE_REPLIES[kind]
        assert client.command("NOOP") == b"+OK\r\n"
        client.close()


@pytest.mark.parametrize("kind", [*KINDS, "lease-lost", "cleanup-pending"])
def test_a_commit_that_meets_a_fault_gets_its_one_reply_and_ends_the_session_rfc1939_s6(
    store: Store, mailbox_with_a_message: str, kind: str
) -> None:
    with faulty_daemon(store) as (port, faults):
        client = RawClient(port)
        assert _pass(client, client.line()).startswith(b"+OK")
        assert client.command("DELE 1").startswith(b"+OK")
        match kind:
            case "lease-lost":  # paused past the lease's expiry; another session took it
                assert take_lease(store, ADDRESS, "successor", now=time.time() + 31)
            case "cleanup-pending":
                faults.arm(Fault.FAIL, operation="DeleteObjects")
            case _:
                faults.arm(KINDS[kind], operation="TransactWriteItems")
        assert client.command("QUIT") == COMMIT_REPLIES[kind]
        with pytest.raises(ConnectionError):
            client.line()
        client.close()
    committed = COMMIT_REPLIES[kind] == SIGN_OFF
    assert len(store.list_messages(ADDRESS)) == (0 if committed else 1)
