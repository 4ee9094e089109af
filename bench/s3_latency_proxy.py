"""An HTTP proxy in front of moto's server that delays S3 GetObject, as a distant S3 would.

Each GetObject request (GET on /<bucket>/<key>, path-style, as botocore addresses an IP endpoint)
is held for a first-byte delay drawn uniformly from [delay - jitter, delay + jitter] before it is
passed on; every other request (DynamoDB, listings, writes) passes at once. The proxy relays bytes
on one upstream connection per client connection and reads only the requests' framing (head and
Content-Length), so responses stream through untouched. Loopback only.

    .venv/bin/python bench/s3_latency_proxy.py --upstream 127.0.0.1:PORT --delay-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
MAX_HEAD = 64 * 1024
CHUNK = 256 * 1024
# A client connection with no new request for this long is closed: every loop ends.
IDLE_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class Delay:
    seconds: float
    jitter: float

    def draw(self, rng: random.Random) -> float:
        return max(0.0, self.seconds + rng.uniform(-self.jitter, self.jitter))


def is_get_object(head: bytes) -> bool:
    """GET /bucket/key (a key, not a bucket listing or one of its sub-resources)."""
    method, _, rest = head.partition(b" ")
    target = rest.split(b" ", 1)[0]
    path, _, query = target.partition(b"?")
    parts = [part for part in path.split(b"/") if part]
    listing = query.startswith((b"list-type", b"prefix", b"uploads", b"versions"))
    return method == b"GET" and len(parts) >= 2 and not listing


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


class Proxy:
    def __init__(self, upstream: tuple[str, int], delay: Delay, seed: int = 7) -> None:
        self.upstream = upstream
        self.delay = delay
        self.rng = random.Random(seed)
        self.delayed = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        back = asyncio.create_task(self._relay(up_reader, writer))
        try:
            await self._requests(reader, up_writer)
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            TimeoutError,
        ):
            pass
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await back
            writer.close()

    async def _requests(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        while True:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
            if is_get_object(head):
                self.delayed += 1
                await asyncio.sleep(self.delay.draw(self.rng))
            up.write(head)
            remaining = content_length(head)
            while remaining > 0:
                chunk = await reader.read(min(CHUNK, remaining))
                if not chunk:
                    return
                up.write(chunk)
                remaining -= len(chunk)
            await up.drain()

    @staticmethod
    async def _relay(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(CHUNK):
                sink.write(chunk)
                await sink.drain()
        sink.close()


async def serve(upstream: tuple[str, int], delay: Delay, port: int = 0) -> asyncio.Server:
    proxy = Proxy(upstream, delay)
    return await asyncio.start_server(proxy.handle, LOOPBACK, port, limit=MAX_HEAD)


async def _main(args: argparse.Namespace) -> None:
    host, _, port = args.upstream.rpartition(":")
    if host not in (LOOPBACK, "localhost"):
        raise SystemExit("the upstream must be on loopback")
    server = await serve(
        (host, int(port)), Delay(args.delay_ms / 1e3, args.jitter_ms / 1e3), args.port
    )
    print(f"http://{LOOPBACK}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="moto's host:port")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
