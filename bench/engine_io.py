"""How should the daemon call AWS without blocking its event loop? Measure both candidates.

    python bench/engine_io.py [--size-mib 32] [--streams 1 8] [--items 3000]

Runs moto's server in a subprocess on loopback (so the server does not share this process's GIL),
then, in one asyncio event loop, for each candidate:
- threads:  boto3, every blocking call (the GetObject, each 64 KiB chunk, each Query page) handed
            to the default thread pool with `asyncio.to_thread`: what popd does today;
- aiobotocore: the native asyncio client (skipped when aiobotocore is not installed; it pins its
            own botocore, so install it in a separate virtualenv with boto3 and moto[server]).
It reports streaming throughput of a GetObject read in 64 KiB chunks with 1 and 8 concurrent
streams, the time of a paginated Query listing, and the event loop's worst stall (a 1 ms ticker's
largest lateness) while each runs. docs/engine.md records the numbers and the decision.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import boto3

CHUNK = 65536
BUCKET, KEY, TABLE, PK = "bench", "big", "bench", "MBX#bench@example.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return server, endpoint
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto's server did not start")


def prepare(endpoint: str, size: int, items: int) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=os.urandom(size))
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    filler = {"S": "x" * 600}  # a message entry with its summary is a few hundred octets
    for start in range(0, items, 25):
        batch = [
            {"PutRequest": {"Item": {"pk": {"S": PK}, "sk": {"S": f"MSG#{i:08d}"}, "f": filler}}}
            for i in range(start, min(items, start + 25))
        ]
        dynamodb.batch_write_item(RequestItems={TABLE: batch})


async def ticker(stop: asyncio.Event, lateness: list[float]) -> None:
    """Sleep 1 ms at a time and record how late each wake-up was: the loop's stalls."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(0.001)
        lateness.append(loop.time() - start - 0.001)


async def measured(work: Callable[[], Awaitable[int]]) -> tuple[float, int, float]:
    """Run `work`; return (seconds, what it counted, worst loop stall in seconds)."""
    stop, lateness = asyncio.Event(), []
    tick = asyncio.create_task(ticker(stop, lateness))
    started = time.perf_counter()
    counted = await work()
    elapsed = time.perf_counter() - started
    stop.set()
    await tick
    return elapsed, counted, max(lateness, default=0.0)


# --- boto3 in the thread pool (what popd does) ---


def threads_candidate(endpoint: str) -> dict[str, Callable[..., Awaitable[int]]]:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)

    async def stream() -> int:
        response = await asyncio.to_thread(s3.get_object, Bucket=BUCKET, Key=KEY)
        chunks = response["Body"].iter_chunks(CHUNK)
        total = 0
        while chunk := await asyncio.to_thread(next, chunks, b""):
            total += len(chunk)
        return total

    def list_all() -> int:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": PK}},
        )
        return sum(len(page["Items"]) for page in pages)

    async def query() -> int:
        return await asyncio.to_thread(list_all)

    return {"stream": stream, "query": query}


# --- aiobotocore ---


async def aiobotocore_candidate(
    endpoint: str, stack: Any
) -> dict[str, Callable[..., Awaitable[int]]]:
    from aiobotocore.session import get_session  # noqa: PLC0415 - optional: see the docstring

    session = get_session()
    s3 = await stack.enter_async_context(session.create_client("s3", endpoint_url=endpoint))
    dynamodb = await stack.enter_async_context(
        session.create_client("dynamodb", endpoint_url=endpoint)
    )

    async def stream() -> int:
        response = await s3.get_object(Bucket=BUCKET, Key=KEY)
        total = 0
        async with response["Body"] as body:
            while chunk := await body.read(CHUNK):
                total += len(chunk)
        return total

    async def query() -> int:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": PK}},
        )
        return sum([len(page["Items"]) async for page in pages])

    return {"stream": stream, "query": query}


async def run_candidate(
    name: str, calls: dict[str, Callable[..., Awaitable[int]]], streams: list[int], rounds: int
) -> None:
    for concurrent in streams:
        rates, stalls = [], []
        for _ in range(rounds):

            async def many(n: int = concurrent) -> int:
                return sum(await asyncio.gather(*(calls["stream"]() for _ in range(n))))

            seconds, octets, stall = await measured(many)
            rates.append(octets / seconds / 2**20)
            stalls.append(stall)
        print(
            f"{name:12} GetObject x{concurrent:<2} {statistics.median(rates):8.1f} MiB/s"
            f"   worst loop stall {max(stalls) * 1000:6.1f} ms"
        )
    times, stalls = [], []
    for _ in range(rounds):
        seconds, items, stall = await measured(calls["query"])
        times.append(seconds)
        stalls.append(stall)
    print(
        f"{name:12} Query {items} items {statistics.median(times) * 1000:8.1f} ms"
        f"   worst loop stall {max(stalls) * 1000:6.1f} ms"
    )


async def main_async(args: argparse.Namespace, endpoint: str) -> None:
    await run_candidate("threads", threads_candidate(endpoint), args.streams, args.rounds)
    if importlib.util.find_spec("aiobotocore") is None:
        print("aiobotocore   not installed: skipped")
        return
    async with AsyncExitStack() as stack:
        calls = await aiobotocore_candidate(endpoint, stack)
        await run_candidate("aiobotocore", calls, args.streams, args.rounds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    server, endpoint = start_moto()
    try:
        prepare(endpoint, args.size_mib * 2**20, args.items)
        print(f"python {sys.version.split()[0]}, boto3 {boto3.__version__}, {os.cpu_count()} CPUs")
        asyncio.run(main_async(args, endpoint))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
