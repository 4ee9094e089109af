"""AWS requests per storage operation, counted at botocore (one per API call, as AWS bills them):
the reconcile (from its arrivals queue, and from a listing where there is no queue) and gc sweeps
on a store that keeps many messages and has nothing to do, ingest for
one and for ten mailboxes, and the daemon's side (`popd.maildrops`, in-process, no sockets): a
login on 100, 2,000 and 100,000 messages, unchanged since this daemon's last login and changed
(one message filed since), QUIT with 1, 100 and 1,000 deletions, and a minute of idle sessions.
Capacity units and dollars are computed from the items by AWS's rules (`capacity.py`). Runs
against moto in-process (`moto.mock_aws`), so it needs no server and measures nothing but the
requests the code makes.

    .venv/bin/python bench/request_counts.py [--kept 1000,100000] [--listing 100,2000,100000]
        [--cache-entries 200000]

Run it with another checkout's `src` first on PYTHONPATH to count that version's requests (the
before/after figures in docs/performance.md, "Requests per operation", were made so).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import capacity
from capacity import Meter
from moto import mock_aws

from popd import moto_queries, moto_transactions
from popd.maildrops import Maildrops
from popdrop.auth.authenticator import Authenticator
from popdrop.auth.passwords import hash_password
from popdrop.ingest import ingest
from popdrop.ingest.reconcile import reconcile
from popdrop.model import Address, MessageEntry, Snapshot, Summary
from popdrop.settings import Settings
from popdrop.store import Store, codec, intake
from popdrop.store.arrivals import Arrivals

PUT_BATCH = 25  # DynamoDB's BatchWriteItem limit
MESSAGE = b"From: a@example.test\r\nTo: m0@example.test\r\nSubject: hi\r\n\r\nbody\r\n"
DAY_MS = 86400_000


# The store's clients, made here so the bench can count their calls (and write the kept state).
S3 = "s3"
DYNAMODB = "dynamodb"


SQS = "sqs"
EVENTS = "events"
ARRIVALS = "requests-bench-arrivals"


def _store(*, arrivals: bool = False) -> tuple[Store, dict[str, Any]]:
    """The store, with the reconcile sweep's arrivals queue (as template.yaml deploys) or not."""
    names = (S3, DYNAMODB, SQS, EVENTS) if arrivals else (S3, DYNAMODB)
    clients = {name: boto3.client(name, region_name="us-east-1") for name in names}
    store = Store(
        s3=clients[S3],
        dynamodb=clients[DYNAMODB],
        table="requests-bench",
        bucket="requests-bench",
        incoming_prefix="incoming/",
        arrivals=Arrivals(clients[SQS], clients[EVENTS], ARRIVALS) if arrivals else None,
    )
    store.create_resources()
    return store, clients


def _counted(clients: dict[str, Any], run: Callable[[], Any]) -> Counter[str]:
    """The API calls `run` makes through the store's clients."""
    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    for client in clients.values():
        client.meta.events.register("before-call.*.*", record)
    try:
        run()
    finally:
        for client in clients.values():
            client.meta.events.unregister("before-call.*.*", record)
    return calls


def _keep(store: Store, dynamodb: Any, kept: int) -> None:
    """`kept` messages stored, ingested (record done) and referenced by one entry each, written
    directly (their ingest is not what is measured)."""
    items: list[codec.Item] = []
    for n in range(kept):
        key = store.put_incoming(f"kept-{n:07d}", MESSAGE)
        items.append(
            {
                **intake.ingest_key(f"kept-{n:07d}"),
                intake.STATUS: codec.s("done"),
                codec.OBJECT_KEY: codec.s(key),
                intake.STARTED_AT: codec.n(0),
            }
        )
        items.append({**codec.reference_key(key), codec.REFS: codec.n(1)})
    for start in range(0, len(items), PUT_BATCH):
        batch = items[start : start + PUT_BATCH]
        dynamodb.batch_write_item(
            RequestItems={store.table: [{"PutRequest": {"Item": item}} for item in batch]}
        )


def sweeps(kept: int) -> dict[str, Counter[str]]:
    """Reconcile from the arrivals queue (template.yaml's) and, for a bucket without one, from
    the listing after its checkpoint; gc from its index."""
    with mock_aws():
        store, clients = _store(arrivals=True)
        # Earlier runs settled the kept objects' arrivals (each was handled): an empty queue. They
        # are stored with the bucket's events off, which is the same end state without moto's
        # SQS, whose every SendMessage walks the whole queue, making 100,000 arrivals quadratic.
        s3 = clients[S3]
        events = s3.get_bucket_notification_configuration(Bucket=store.bucket)
        events.pop("ResponseMetadata", None)
        s3.put_bucket_notification_configuration(Bucket=store.bucket, NotificationConfiguration={})
        _keep(store, clients[DYNAMODB], kept)
        s3.put_bucket_notification_configuration(
            Bucket=store.bucket, NotificationConfiguration=events
        )
        sqs = clients[SQS]
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=ARRIVALS)["QueueUrl"])
        listing = Store(
            s3=clients[S3],
            dynamodb=clients[DYNAMODB],
            table=store.table,
            bucket=store.bucket,
            incoming_prefix=store.incoming_prefix,
        )
        now = int(time.time() * 1000) + DAY_MS
        reconcile(listing, now_ms=now)  # the listing's first run sets its checkpoint
        store.collect_garbage(grace_seconds=3600, now=now / 1000)
        later = now + DAY_MS
        return {
            f"reconcile (arrivals queue), {kept:,} kept, nothing new": _counted(
                clients, lambda: reconcile(store, now_ms=later)
            ),
            f"reconcile (listing, no queue), {kept:,} kept, nothing new": _counted(
                clients, lambda: reconcile(listing, now_ms=later)
            ),
            f"gc, {kept:,} kept, nothing to collect": _counted(
                clients, lambda: store.collect_garbage(grace_seconds=3600, now=later / 1000)
            ),
        }


def ingests() -> dict[str, Counter[str]]:
    figures = {}
    with mock_aws():
        store, clients = _store()
        mailboxes = [Address(f"m{n}@example.test") for n in range(10)]
        for mailbox in mailboxes:
            store.create_mailbox(mailbox, "hash")
        for count in (1, 10):
            key = store.put_incoming(f"msg-{count}", MESSAGE)
            figures[f"ingest, {count} mailbox{'es' if count > 1 else ''}"] = _counted(
                clients,
                lambda key=key, count=count: ingest(
                    store,
                    message_id=f"msg-{count}",
                    object_key=key,
                    recipients=mailboxes[:count],
                    arrived_at=int(time.time() * 1000),
                ),
            )
    return figures


PASSWORD = "correct horse battery staple"
SUMMARY = Summary(
    sender="A Sender <sender@example.org>",
    to="m0@example.test",
    subject="A subject line of ordinary length",
    date="Mon, 30 Nov 2026 10:00:00 +0000",
    message_id="<0123456789.abcdef@example.org>",
)
Figure = tuple[Counter[str], float, float, float]  # calls, read units, write units, dollars


def _fill(
    store: Store, dynamodb: Any, address: Address, count: int, *, objects: bool = False
) -> None:
    """`count` entries with their uid markers, written directly: each with its own object when
    `objects` (a QUIT deletes them), else all referring to one."""
    items: list[codec.Item] = []
    shared = "" if objects else store.put_incoming(f"kept-{address}", MESSAGE)
    if shared:
        items.append({**codec.reference_key(shared), codec.REFS: codec.n(count)})
    for n in range(count):
        key = shared or store.put_incoming(f"{address}-{n}", MESSAGE)
        if not shared:
            items.append({**codec.reference_key(key), codec.REFS: codec.n(1)})
        entry = MessageEntry(
            address, f"u{n:09d}", key, len(MESSAGE), 52, 1_700_000_000_000 + n, SUMMARY
        )
        items += [codec.entry_item(entry), codec.marker_item(entry)]
    for start in range(0, len(items), PUT_BATCH):
        dynamodb.batch_write_item(
            RequestItems={
                store.table: [{"PutRequest": {"Item": i}} for i in items[start : start + PUT_BATCH]]
            }
        )


def _figure(meter: Meter) -> Figure:
    return Counter(meter.calls), meter.read_units, meter.write_units, meter.dollars()


def daemon_side(listing_sizes: list[int], cache_entries: int | None) -> dict[str, Figure]:
    """Logins (first, unchanged, changed), QUITs with deletions, and an idle minute, through the
    daemon's storage layer against in-process moto."""
    figures: dict[str, Figure] = {}
    with mock_aws():
        moto_transactions.untrack_instances("dynamodb", "s3")
        store, clients = _store()
        meter = Meter()
        meter.attach(*clients.values())
        settings = Settings(lease_seconds=30.0)
        if cache_entries is not None:
            settings = Settings(lease_seconds=30.0, listing_cache_entries=cache_entries)
        for size in listing_sizes:
            address = Address(f"big{size}@example.test")
            store.create_mailbox(address, hash_password(PASSWORD))
            _fill(store, clients[DYNAMODB], address, size)
            figures |= asyncio.run(_logins(store, settings, meter, address, size))
        for deletions in (1, 100, 1000):
            address = Address(f"quit{deletions}@example.test")
            store.create_mailbox(address, hash_password(PASSWORD))
            _fill(store, clients[DYNAMODB], address, deletions, objects=True)
            figures |= asyncio.run(_quit(store, settings, meter, address, deletions))
        figures |= asyncio.run(_idle_minute(store, settings, meter))
    return figures


async def _login(maildrops: Maildrops, address: Address) -> Snapshot:
    session = maildrops.session()
    snapshot = await session.login(address, PASSWORD, "192.0.2.1")
    assert isinstance(snapshot, Snapshot), snapshot
    await session.release(address)
    return snapshot


async def _logins(
    store: Store, settings: Settings, meter: Meter, address: Address, size: int
) -> dict[str, Figure]:
    maildrops = Maildrops(
        store,
        Authenticator(store, settings),
        listing_cache_entries=settings.listing_cache_entries,
    )
    bound = settings.listing_cache_entries
    where = "" if bound == Settings().listing_cache_entries else f" (cache {bound:,} entries)"
    await maildrops.start()
    figures = {}
    try:
        for label in ("first of this daemon", "unchanged", "changed: 1 message filed"):
            if label.startswith("changed"):
                key = store.put_incoming(f"new-{address}", MESSAGE)  # SES's PUT: not counted
                meter.reset()
                deliver_one(store, address, key)
                figures["ingest, 1 mailbox"] = _figure(meter)
            meter.reset()
            snapshot = await _login(maildrops, address)
            figures[f"login, {size:,} messages, {label}{where}"] = _figure(meter)
            assert len(snapshot.messages) >= size
    finally:
        await maildrops.stop()
    return figures


def deliver_one(store: Store, address: Address, key: str) -> None:
    ingest(
        store,
        message_id=f"new-{address}",
        object_key=key,
        recipients=[address],
        arrived_at=int(time.time() * 1000),
    )


async def _quit(
    store: Store, settings: Settings, meter: Meter, address: Address, deletions: int
) -> dict[str, Figure]:
    """QUIT after DELE of `deletions` messages (RFC 1939 §6): the commit and the release."""
    maildrops = Maildrops(store, Authenticator(store, settings))
    await maildrops.start()
    try:
        session = maildrops.session()
        snapshot = await session.login(address, PASSWORD, "192.0.2.1")
        assert isinstance(snapshot, Snapshot), snapshot
        meter.reset()
        assert await session.commit(address, snapshot.messages[:deletions]) is None
        await session.release(address)
        label = f"QUIT with {deletions:,} deletion{'s' if deletions > 1 else ''}"
        return {label: _figure(meter)}
    finally:
        await maildrops.stop()


async def _idle_minute(store: Store, settings: Settings, meter: Meter) -> dict[str, Figure]:
    """What one daemon writes in a minute while 100 sessions sit logged in: its heartbeat, renewed
    every third of the lease period, and nothing per session."""
    sessions = 100
    maildrops = Maildrops(store, Authenticator(store, settings))
    await maildrops.start()
    try:
        for n in range(sessions):
            store.create_mailbox(Address(f"idle{n}@example.test"), hash_password(PASSWORD))
        held = [maildrops.session() for _ in range(sessions)]
        for n, session in enumerate(held):
            assert isinstance(
                await session.login(Address(f"idle{n}@example.test"), PASSWORD, "192.0.2.1"),
                Snapshot,
            )
        meter.reset()
        await asyncio.sleep(60)
        figure = _figure(meter)
        for n, session in enumerate(held):
            await session.release(Address(f"idle{n}@example.test"))
    finally:
        await maildrops.stop()
    return {f"a minute of {sessions} idle sessions on one daemon": figure}


# The ingest Lambda per message (template.yaml: 256 MB), at an assumed 100 ms warm run; Lambda's
# prices: $0.20 per million requests and $0.0000166667 per GB-second.
LAMBDA_PER_MESSAGE = 0.20 / 1e6 + 0.25 * 0.1 * 0.0000166667
MONTH_MINUTES = 30 * 24 * 60
NEW_PER_MONTH = 900  # 30 messages a day


def mailbox_month(figures: dict[str, Figure]) -> None:
    """Dollars of requests per mailbox-month for two ways of using POP3, from the measured rows,
    beside the simplest S3-backed POP3 server (one prefix per mailbox: every login lists it, 1
    LIST per 1,000 keys; RETR a GET; deletions free). Storage (S3, the same for both) is left out;
    SES's own PUT of each message too."""

    def cost(name: str) -> float:
        return figures[name][3]

    per_message = cost("ingest, 1 mailbox") + LAMBDA_PER_MESSAGE + capacity.S3_PRICES["GetObject"]
    list_price, get_price = capacity.S3_PRICES["ListObjectsV2"], capacity.S3_PRICES["GetObject"]
    scenarios = {
        "poll every 5 minutes, delete after download": (
            MONTH_MINUTES // 5,
            "login, 100 messages, unchanged",
            "login, 100 messages, changed: 1 message filed",
            cost("QUIT with 1 deletion"),
            1,
        ),
        "poll every minute, keep 2,000 messages": (
            MONTH_MINUTES,
            "login, 2,000 messages, unchanged",
            "login, 2,000 messages, changed: 1 message filed",
            0.0,
            2,
        ),
    }
    print("| use, 30 new messages a day | popdrop | S3-listing POP3 | ratio |")
    print("|---|---|---|---|")
    for name, (logins, unchanged, changed, quit_cost, pages) in scenarios.items():
        popdrop = (logins - NEW_PER_MONTH) * cost(unchanged) + NEW_PER_MONTH * (
            cost(changed) + per_message + quit_cost
        )
        s3_listing = logins * pages * list_price + NEW_PER_MONTH * get_price
        print(f"| {name} | ${popdrop:.4f} | ${s3_listing:.4f} | {popdrop / s3_listing:.2f}x |")


def _print_units(figures: dict[str, Figure]) -> None:
    print("| operation | requests | of which | read units | write units | dollars per million |")
    print("|---|---|---|---|---|---|")
    for name, (calls, reads, writes, dollars) in figures.items():
        detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        print(
            f"| {name} | {sum(calls.values())} | {detail} | {reads:g} | {writes:g} "
            f"| {dollars * 1e6:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kept", default="1000,100000", help="kept messages, comma-separated")
    parser.add_argument(
        "--listing", default="100,2000,100000", help="messages in the login's maildrop"
    )
    parser.add_argument(
        "--cache-entries",
        type=int,
        help="the daemon's POPDROP_LISTING_CACHE_ENTRIES (default: the setting's default)",
    )
    args = parser.parse_args()
    # moto as `popdrop dev` runs it, so that 100,000 items can be filled and read: its
    # transactions copy the whole table each (quadratic in what it holds) and its Query sorts
    # every item of the table for each page; the patches copy and read only what is asked for,
    # and answer the same requests with the same pages (tests/integration/popd/test_moto_*.py).
    moto_transactions.install()
    moto_queries.install()
    daemon = daemon_side([int(n) for n in args.listing.split(",")], args.cache_entries)
    _print_units(daemon)
    print()
    if {100, 2000} <= {int(n) for n in args.listing.split(",")}:
        mailbox_month(daemon)
        print()
    figures = ingests()
    for kept in (int(n) for n in args.kept.split(",")):
        figures |= sweeps(kept)
    print("| operation | requests | of which |")
    print("|---|---|---|")
    for name, calls in figures.items():
        detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        print(f"| {name} | {sum(calls.values())} | {detail} |")


if __name__ == "__main__":
    main()
