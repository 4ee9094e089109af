"""Randomized POP3 sessions through the daemon with a chosen AWS call failing (after botocore's
retries, as `faults.unretried_store` sets up): every reply is +OK or -ERR [SYS/TEMP], and the
maildrop afterwards holds exactly what the committed QUITs left (DESIGN invariants 2 and 8)."""

from __future__ import annotations

import random

from popdrop.store import Store
from tests.support import RawClient, deliver, running_daemon, stored_object, unstuff

from .conftest import ADDRESS, PASSWORD, daemon_settings
from .faults import Fault, unretried_store

SESSIONS = 40


def _message(rng: random.Random) -> bytes:
    return b"Subject: %d\r\n\r\n.dot\r\nbody\r\n" % rng.randrange(10**9)


def test_randomized_sessions_under_storage_faults_keep_the_maildrop_exact(
    store: Store, mailbox: str
) -> None:
    rng = random.Random(5)
    faulty, faults = unretried_store(store)
    expected: dict[str, bytes] = {}
    outcomes: dict[str, int] = {}
    with running_daemon(daemon_settings(lease_wait_seconds=2), faulty) as endpoints:
        for _ in range(SESSIONS):
            for _ in range(rng.randint(0, 3)):
                data = _message(rng)
                expected[deliver(store, data, mailbox)] = data
            faults.arm(rng.choice([Fault.FAIL, Fault.CONFLICT]), rng.randrange(8))
            outcome = _session(endpoints.pop3_port, rng, expected)
            faults.disarm()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            listing = store.list_messages(mailbox)
            assert sorted(entry.uid for entry in listing) == sorted(expected)
            for entry in listing:
                assert stored_object(store, entry.object_key) == expected[entry.uid]
    store.collect_garbage(grace_seconds=0)
    assert len(store.list_messages(mailbox)) == len(expected)
    assert outcomes.get("login failed", 0) + outcomes.get("quit failed", 0) >= 3
    assert outcomes.get("committed", 0) >= 3


def _session(port: int, rng: random.Random, expected: dict[str, bytes]) -> str:
    """One session: login, maybe RETR, some DELEs, then QUIT or a dropped connection. With fewer
    than 49 deletions a QUIT is one transaction, so a failed one deleted nothing."""
    client = RawClient(port)
    try:
        client.line()
        client.command(f"USER {ADDRESS}")
        reply = client.command(f"PASS {PASSWORD}")
        if not reply.startswith(b"+OK"):
            assert reply.startswith(b"-ERR [SYS/TEMP]"), reply
            return "login failed"
        uids = _uidl(client)
        if uids and rng.random() < 0.5:
            number = rng.randrange(len(uids)) + 1
            reply = client.command(f"RETR {number}")
            if reply.startswith(b"+OK"):
                assert unstuff(client.multiline()) == expected[uids[number - 1]]
            else:
                assert reply.startswith(b"-ERR [SYS/TEMP]"), reply
        doomed = rng.sample(range(1, len(uids) + 1), rng.randint(0, len(uids)))
        for number in doomed:
            assert client.command(f"DELE {number}").startswith(b"+OK")
        if rng.random() < 0.2:
            return "dropped"
        reply = client.command("QUIT")
        if reply.startswith(b"-ERR"):
            assert reply.startswith(b"-ERR [SYS/TEMP]"), reply
            return "quit failed"
        for number in doomed:
            del expected[uids[number - 1]]
        return "committed"
    finally:
        client.close()


def _uidl(client: RawClient) -> list[str]:
    """RFC 1939 §7 UIDL: the unique ids in message-number order."""
    assert client.command("UIDL").startswith(b"+OK")
    lines = client.multiline().decode().split("\r\n")[:-2]
    return [line.split()[1] for line in lines]
