"""AWS requests per storage operation, counted at botocore (one per API call, as AWS bills them):
the reconcile and gc sweeps on a store that keeps many messages and has nothing to do, and ingest
for one and for ten mailboxes. Runs against moto in-process (`moto.mock_aws`), so it needs no
server and measures nothing but the requests the code makes.

    .venv/bin/python bench/request_counts.py [--kept 1000,100000]

Run it with another checkout's `src` first on PYTHONPATH to count that version's requests (the
before/after figures in docs/performance.md, "Requests per operation", were made so).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
from moto import mock_aws

from popdrop.ingest import ingest
from popdrop.ingest.reconcile import reconcile
from popdrop.model import Address
from popdrop.store import Store, codec, intake

PUT_BATCH = 25  # DynamoDB's BatchWriteItem limit
MESSAGE = b"From: a@example.test\r\nTo: m0@example.test\r\nSubject: hi\r\n\r\nbody\r\n"
DAY_MS = 86400_000


# The store's clients, made here so the bench can count their calls (and write the kept state).
S3 = "s3"
DYNAMODB = "dynamodb"


def _store() -> tuple[Store, dict[str, Any]]:
    clients = {name: boto3.client(name, region_name="us-east-1") for name in (S3, DYNAMODB)}
    store = Store(
        s3=clients[S3],
        dynamodb=clients[DYNAMODB],
        table="requests-bench",
        bucket="requests-bench",
        incoming_prefix="incoming/",
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
    with mock_aws():
        store, clients = _store()
        _keep(store, clients[DYNAMODB], kept)
        now = int(time.time() * 1000) + DAY_MS
        reconcile(store, now_ms=now)  # the first run (sets the checkpoint where there is one)
        store.collect_garbage(grace_seconds=3600, now=now / 1000)
        later = now + DAY_MS
        return {
            f"reconcile, {kept:,} kept, nothing new": _counted(
                clients, lambda: reconcile(store, now_ms=later)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kept", default="1000,100000", help="kept messages, comma-separated")
    args = parser.parse_args()
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
