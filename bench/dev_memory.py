"""Where `popdrop dev`'s memory goes per message: moto and the store alone, in one process.

Starts moto's server in this process as `popdrop dev` does (its transaction fix and instance
tracking off; with --compact also popd/moto_compact.py), ingests --warmup messages of --size
octets through the real path (the object put as the SES stand-in puts it, then
`ingest_ses_event`), then --messages more under tracemalloc, and prints the bytes still allocated
per message after them, with the source lines that allocated the most. tracemalloc counts what
Python allocated, not what the allocator keeps around it: `bench/dev_fill.py` measures the
stack's resident size.

    .venv/bin/python bench/dev_memory.py --messages 1000             # moto as popdrop dev had it
    .venv/bin/python bench/dev_memory.py --messages 1000 --compact   # with popd/moto_compact.py
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
import tracemalloc

import moto.dynamodb.models
import moto.s3.models  # noqa: F401 - registers the S3 models whose tracking is turned off
import moto_host

from popd import moto_compact, moto_transactions
from popdrop.auth.passwords import hash_password
from popdrop.auth.scram import derive_keys
from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event, new_message_id
from popdrop.model import Address
from popdrop.settings import Settings
from popdrop.store import Store

ADDRESS = "demo@popdrop.test"


def message(number: int, size: int) -> bytes:
    head = (
        f"Return-Path: <bench@example.org>\r\nReceived: from bench by ses for <{ADDRESS}>;\r\n"
        f" Fri, 04 Dec 2026 16:00:00 +0000\r\nFrom: bench@example.org\r\nTo: {ADDRESS}\r\n"
        f"Subject: fill {number}\r\nMessage-ID: <fill-{number}@example.org>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def measure(messages: int, warmup: int, size: int, compact: bool, top: int) -> dict[str, object]:
    moto_transactions.install()
    moto_transactions.untrack_instances("dynamodb", "s3")
    if compact:
        moto_compact.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto_host.in_this_process(
        POPDROP_TABLE="popdrop-dev",
        POPDROP_BUCKET="popdrop-dev-mail",
        POPDROP_INCOMING_PREFIX="incoming/",
    ):
        return _ingest_and_count(messages, warmup, size, top)


def _ingest_and_count(messages: int, warmup: int, size: int, top: int) -> dict[str, object]:
    store = Store.from_settings(Settings())
    store.create_resources()
    store.create_mailbox(Address(ADDRESS), hash_password("bench"), derive_keys("bench"))

    def ingest(number: int) -> None:
        message_id = new_message_id()
        store.put_incoming(message_id, message(number, size))
        event = ses_event(
            message_id, [ADDRESS], timestamp_ms=int(time.time() * 1000), source="bench@example.org"
        )
        ingest_ses_event(store, event)

    for number in range(warmup):
        ingest(number)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for number in range(warmup, warmup + messages):
        ingest(number)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    lines = after.compare_to(before, "lineno")
    return {
        "bytes_per_message": sum(line.size_diff for line in lines) / messages,
        "top": [
            (line.size_diff / messages, line.count_diff / messages, str(line.traceback))
            for line in lines[:top]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--size", type=int, default=2048, help="octets per message")
    parser.add_argument("--compact", action="store_true", help="with popd/moto_compact.py")
    parser.add_argument("--top", type=int, default=15, help="source lines to show")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = measure(args.messages, args.warmup, args.size, args.compact, args.top)
    if args.json:
        print(json.dumps(result))
        return 0
    per_message = float(result["bytes_per_message"])  # type: ignore[arg-type]
    print(f"allocated and still held per message: {per_message / 1024:.2f} KiB")
    print("   B/msg  objects/msg  allocated at")
    for size, count, where in result["top"]:  # type: ignore[attr-defined]
        print(f"{size:8.0f}  {count:11.1f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
