"""The fault-injection harness: randomized ingests and POP3 sessions at the store, each with one
chosen AWS call failed or the process killed at it (`faults`), then the recovery the real system
performs (Lambda retries the event; the client logs in again, after the lease expired if its
holder died, and repeats its DELEs and QUIT) and a `popdrop gc` sweep, itself sometimes faulted.

After every scenario (DESIGN invariants 1, 2, 3 and 8): no message lost, none duplicated, none
deleted without a committed QUIT, every entry's object present, reference counts and mailbox
counters exact, and no object left that no entry references. A commit that failed part-way is
checked before its recovery too: each message is either fully present (entry and object) or its
entry is gone, never an entry without its object.

The store here has botocore's retries switched off, so every injected fault reaches popdrop's own
code (what happens once botocore's retry budget is spent); `test_storage_faults` covers the retries.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import boto3
import pytest
from moto import mock_aws

from popdrop.faces.faults import LeaseLost, StoreError
from popdrop.faces.pop3 import Lease
from popdrop.ingest import ingest, new_message_id, unique_id
from popdrop.logfmt import now_ms
from popdrop.model import MessageEntry
from popdrop.store import Store, schema
from popdrop.store import codec as store_codec
from tests.conftest import AWS_ENV, AwsClients
from tests.support import stored_object, take_lease

from .faults import Fault, FaultInjector, ProcessKilled, unretried_store

# 1,000 scenarios in all; each run starts from an empty table, which keeps moto's scans cheap.
RUNS: Final = 50
SCENARIOS_PER_RUN: Final = 20
MAILBOXES: Final = ("a@example.test", "b@example.test", "c@example.test")
UNKNOWN: Final = "nobody@example.test"
LEASE_SECONDS: Final = 30.0


@dataclass
class World:
    """The store under faults, a clean store to check and recover with, and what must be true."""

    faulty: Store
    clean: Store
    clients: AwsClients  # the clean store's, to read every item and object for the checks
    faults: FaultInjector
    rng: random.Random
    expected: dict[str, dict[str, bytes]] = field(default_factory=dict)
    # Simulated time: jumps past a dead holder's heartbeat, never behind the real.
    clock: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)

    def now(self) -> float:
        """Never behind the real clock, which moto's own timestamps follow."""
        self.clock = max(self.clock, time.time())
        return self.clock

    def expire_leases(self) -> None:
        self.clock = self.now() + LEASE_SECONDS + 1

    def arm(self, calls: int) -> None:
        """Fault one of the next `calls` AWS calls (or none, a fifth of the time)."""
        if self.rng.random() < 0.2:
            self.faults.disarm()
            return
        fault = self.rng.choice(list(Fault))
        times = self.rng.choice((1, 1, 2, 5)) if fault is not Fault.KILL_AFTER else 1
        self.faults.arm(fault, self.rng.randrange(calls), times)
        self.counts[f"armed {fault.value}"] += 1


@pytest.fixture
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in this process (`mock_aws`): the same moto, without an HTTP hop per call, which the
    harness's 15,000-odd calls cannot afford. Nothing here runs in another thread or process."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


# CPU-bound in-process moto: about 100 s on a loaded 2-core machine, more beside other test workers.
@pytest.mark.timeout(600)
def test_1000_randomized_sessions_and_ingests_lose_and_duplicate_nothing(
    in_process_aws: None,
) -> None:
    totals: Counter[str] = Counter()
    for run in range(RUNS):
        store, clients = _clean_store()
        world = _world(store, clients, seed=run)
        for _ in range(SCENARIOS_PER_RUN):
            scenario = world.rng.choices((_ingest, _session, _gc), weights=(5, 5, 1))[0]
            scenario(world)
            world.faults.disarm()
            world.clean.collect_garbage(grace_seconds=0)
            _check(world)
            world.counts["scenarios"] += 1
        world.counts["injected"] += world.faults.injected
        totals += world.counts
    print(f"fault-injection harness: {dict(sorted(totals.items()))}")
    assert totals["scenarios"] == RUNS * SCENARIOS_PER_RUN
    assert totals["ingests"] + totals["sessions"] >= 850
    assert totals["injected"] >= 500
    assert totals["killed"] >= 100 and totals["storage errors"] >= 100
    assert totals["commits"] >= 100 and totals["commits interrupted"] >= 30
    assert totals["lease lost"] >= 10


def _world(store: Store, clients: AwsClients, seed: int) -> World:
    faulty, faults = unretried_store(store)
    world = World(faulty, store, clients, faults, random.Random(seed))
    for address in MAILBOXES:
        store.create_mailbox(address, "hash")
        world.expected[address] = {}
    return world


def _clean_store() -> tuple[Store, AwsClients]:
    """A store on a fresh table and bucket (each run starts empty)."""
    clients = AwsClients(s3=boto3.client("s3"), dynamodb=boto3.client("dynamodb"))
    name = f"harness-{secrets.token_hex(4)}"
    store = Store(
        s3=clients.s3,
        dynamodb=clients.dynamodb,
        table=name,
        bucket=name,
        incoming_prefix="incoming/",
    )
    store.create_resources()
    return store, clients


def _message(rng: random.Random) -> bytes:
    lines = [b"Subject: %d" % rng.randrange(10**6), b""]
    lines += [rng.choice((b"body", b".dot", b"..two", b"", b"x" * 90)) for _ in range(8)]
    return b"\r\n".join(lines) + b"\r\n"


def _ingest(world: World) -> None:
    """SES stores the message, then the ingest function files it (invariant 1)."""
    world.counts["ingests"] += 1
    rng = world.rng
    message_id, data, arrived_at = new_message_id(), _message(rng), now_ms()
    recipients = rng.sample([*MAILBOXES, UNKNOWN], rng.randint(1, 3))

    def deliver(store: Store) -> None:
        key = store.put_incoming(message_id, data)
        ingest(
            store,
            message_id=message_id,
            object_key=key,
            recipients=recipients,
            arrived_at=arrived_at,
        )

    world.arm(calls=2 + 2 * len(recipients))
    try:
        deliver(world.faulty)
    except (StoreError, ProcessKilled) as error:
        _count_failure(world, error)
        world.faults.disarm()
        deliver(world.clean)  # SES retries its write; Lambda retries the event
    if rng.random() < 0.2:
        deliver(world.clean)  # an event delivered twice
        world.counts["replayed"] += 1
    for address in recipients:
        if address != UNKNOWN:
            world.expected[address][unique_id(message_id)] = data


def _session(world: World) -> None:
    """Login, maybe RETR, DELE some, then QUIT, a dropped connection, or a lost lease."""
    world.counts["sessions"] += 1
    rng = world.rng
    address = rng.choice(MAILBOXES)
    ending = rng.choices(("quit", "drop", "lost-lease"), weights=(6, 2, 1))[0]
    lease: Lease | None = None
    deletions: list[MessageEntry] = []
    committing = committed = released = False
    world.arm(calls=7)
    try:
        # Each session on a daemon of its own, whose heartbeat nobody renews: once the simulated
        # clock passes it, the session is as dead as a killed daemon's.
        lease = take_lease(
            world.faulty, address, secrets.token_hex(8), seconds=LEASE_SECONDS, now=world.now()
        )
        assert lease is not None, "a released lease, or a dead daemon's, must be free"
        listing = world.faulty.list_messages(address)
        assert {entry.uid for entry in listing} == set(world.expected[address])
        if listing and rng.random() < 0.5:
            entry = rng.choice(listing)
            assert _retrieve(world.faulty, entry) == world.expected[address][entry.uid]
        deletions = rng.sample(listing, rng.randint(0, len(listing)))
        if ending == "lost-lease":
            # Paused past its heartbeat; another session took the maildrop meanwhile.
            world.expire_leases()
            assert take_lease(world.clean, address, "successor", seconds=1, now=world.now())
        if ending != "drop":
            committing = True
            world.faulty.commit_deletions(lease, deletions)
            committed = True
            world.counts["commits"] += 1
        released = world.faulty.release_lease(lease)
    except LeaseLost:
        world.counts["lease lost"] += 1
        assert ending == "lost-lease"
    except (StoreError, ProcessKilled) as error:
        _count_failure(world, error)
    world.faults.disarm()
    if ending == "lost-lease":
        _assert_all_present(world, address)
    elif committing and not committed:
        world.counts["commits interrupted"] += 1
        _assert_each_fully_present_or_deleted(world, address, deletions)
        _recommit(world, address, deletions)
    elif committed:
        for entry in deletions:
            del world.expected[address][entry.uid]
    if not released:
        world.expire_leases()  # the lease is left to expire


def _retrieve(store: Store, entry: MessageEntry) -> bytes:
    """RETR's read: one GetObject, through the store under test (and its faults)."""
    body, data = store.open_object(entry.object_key), b""
    try:
        while chunk := body.read(65536):
            data += chunk
    finally:
        body.close()
    return data


def _recommit(world: World, address: str, deletions: list[MessageEntry]) -> None:
    """The client logs in again (once the dead session's lease expired) and repeats its DELEs."""
    world.expire_leases()
    lease = take_lease(world.clean, address, "retry", seconds=LEASE_SECONDS, now=world.now())
    assert lease is not None
    present = {entry.uid for entry in world.clean.list_messages(address)}
    world.clean.commit_deletions(lease, [entry for entry in deletions if entry.uid in present])
    assert world.clean.release_lease(lease)
    for entry in deletions:
        del world.expected[address][entry.uid]


def _gc(world: World) -> None:
    """A sweep that fails or dies part-way; the clean sweep after every scenario finishes it."""
    world.counts["gc sweeps"] += 1
    world.arm(calls=6)
    try:
        world.faulty.collect_garbage(grace_seconds=0)
    except (StoreError, ProcessKilled) as error:
        _count_failure(world, error)


def _count_failure(world: World, error: BaseException) -> None:
    world.counts["killed" if isinstance(error, ProcessKilled) else "storage errors"] += 1


def _assert_all_present(world: World, address: str) -> None:
    listing = world.clean.list_messages(address)
    assert {entry.uid for entry in listing} == set(world.expected[address])


def _assert_each_fully_present_or_deleted(
    world: World, address: str, deletions: list[MessageEntry]
) -> None:
    present = {entry.uid for entry in world.clean.list_messages(address)}
    assert set(world.expected[address]) - {entry.uid for entry in deletions} <= present
    for entry in deletions:
        if entry.uid in present:
            assert (
                stored_object(world.clean, entry.object_key) == world.expected[address][entry.uid]
            )


def _check(world: World) -> None:
    """Everything the table and bucket hold agrees with what must be there."""
    store, clients = world.clean, world.clients
    scan = clients.dynamodb.get_paginator("scan")
    items = [
        item
        for page in scan.paginate(TableName=store.table, ConsistentRead=True)
        for item in page["Items"]
    ]
    entries: dict[str, list[dict[str, object]]] = {address: [] for address in MAILBOXES}
    refs: dict[str, int] = {}
    profiles: dict[str, tuple[int, int]] = {}
    for item in items:
        pk, sk = item[schema.PK]["S"], item[schema.SK]["S"]
        if sk.startswith(schema.MESSAGE_PREFIX):
            entries[pk.removeprefix("MBX#")].append(item)
        elif sk == schema.REF_SK:
            refs[pk.removeprefix("OBJ#")] = int(item[store_codec.REFS]["N"])
        elif sk == schema.PROFILE_SK:
            count, octets = item[store_codec.MESSAGE_COUNT], item[store_codec.OCTETS]
            profiles[pk.removeprefix("MBX#")] = (int(count["N"]), int(octets["N"]))
    referenced: Counter[str] = Counter()
    for address, expected in world.expected.items():
        uids = [store_codec.entry_from_item(address, item).uid for item in entries[address]]
        assert sorted(uids) == sorted(expected), f"{address}: lost, duplicated or resurrected"
        sizes = {uid: len(data) for uid, data in expected.items()}
        assert profiles[address] == (len(expected), sum(sizes.values()))
        referenced.update(item[store_codec.OBJECT_KEY]["S"] for item in entries[address])
    pages = clients.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    objects = {item["Key"] for page in pages for item in page.get("Contents", [])}
    assert objects == set(referenced), "an object without entries, or an entry without its object"
    assert refs == dict(referenced), "reference counts disagree with the entries"


@pytest.mark.parametrize("kind", [Fault.FAIL, Fault.KILL_BEFORE, Fault.KILL_AFTER])
def test_the_injector_fails_the_chosen_call(
    store: Store, aws_clients: AwsClients, kind: Fault
) -> None:
    """The harness's own instrument: call number 1 (from 0) suffers the fault, call 0 does not."""
    world = _world(store, aws_clients, seed=0)
    world.faults.arm(kind, at=1)
    assert world.faulty.get_mailbox(MAILBOXES[0]) is not None
    with pytest.raises((StoreError, ProcessKilled)):
        world.faulty.get_mailbox(MAILBOXES[0])
    assert world.faults.injected == 1
