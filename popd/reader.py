"""One session's message reads: RETR streaming with read-ahead, TOP by byte range.

Every storage call runs in the thread pool, one 256 KiB chunk per hop, and the caller asks for the
next chunk only after writing the last one (back-pressure), so a session holds at most one chunk of
the message it sends plus the read-ahead budget, however large the message (DESIGN: memory per
session is bounded).

Read-ahead: once RETR n has its first chunk, the GetObjects of messages n + 1 ... n + 16
(READ_AHEAD_MESSAGES) are started and their first chunks read, within the session's byte budget,
so a client that downloads the maildrop in order waits for S3's first-byte latency once, not on
every message; RETR n + 1 then continues that same response (still one GET per message). A
prefetched response may have sat idle while the client read earlier messages; should it fail
part-way, the rest is fetched once more with a ranged GET from where it broke off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Final

from popdrop.model import MessageEntry
from popdrop.store import ObjectBody, Store
from popdrop.store.errors import StoreError

# 256 KiB per thread hop: bench/ measured 25% less CPU per GB of RETR than 64 KiB (docs/
# performance.md), for at most one such chunk held per session while it streams.
CHUNK_SIZE: Final = 256 * 1024
# TOP reads the header block plus this many octets per requested body line in its first ranged
# GET; mail lines are at most 78 characters by convention (RFC 5322 §2.1.1), so one GET nearly
# always suffices. When it does not, each further ranged GET asks for twice as much again.
TOP_LINE_ESTIMATE: Final = 160
# Messages fetched ahead at once. A client reading in order asks for the next message a few
# milliseconds after the last (bench/: 4 KB messages over loopback), so sixteen in flight cover
# S3's 20-30 ms first-byte latency (bench/: 200 messages took 1.11x as long with 20 +/- 10 ms of
# latency as without; 1.67x with eight). Each gets an equal share of the byte budget.
READ_AHEAD_MESSAGES: Final = 16


@dataclass
class _Prefetch:
    entry: MessageEntry
    task: asyncio.Task[tuple[ObjectBody, bytes]]


class MessageReader:
    def __init__(self, store: Store, *, read_ahead_bytes: int) -> None:
        self._store = store
        self._share = read_ahead_bytes // READ_AHEAD_MESSAGES
        self._prefetches: dict[MessageEntry, _Prefetch] = {}

    async def chunks(
        self, entry: MessageEntry, top_lines: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        """The stored message (RETR), or enough of it for `top_lines` body lines (TOP), in chunks.

        The first chunk arrives before anything is sent, so an error then can still be answered
        with -ERR; the body is closed however the caller stops iterating.
        """
        if top_lines is not None:
            async for chunk in self._top(entry, top_lines):
                yield chunk
            return
        prefetched = await self._take(entry)
        body, first = prefetched or (await self._open(entry, 0), b"")
        resumable, offset = prefetched is not None, len(first)
        try:
            if first:
                yield first
            while True:
                # CHUNK_SIZE whatever the first read was: a read-ahead's first chunk is only its
                # share of the budget, and a 5 MB message read on in such pieces cost 4.5x the CPU.
                try:
                    chunk = await asyncio.to_thread(body.read, CHUNK_SIZE)
                except StoreError:
                    if not resumable:
                        raise
                    resumable = False
                    await asyncio.to_thread(_close, body)
                    body = await self._open(entry, offset)
                    continue
                if not chunk:
                    return
                offset += len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(_close, body)

    def read_ahead(self, entries: Sequence[MessageEntry]) -> None:
        """Start fetching the first chunks of `entries` (the messages a client reading in order
        asks for next), up to READ_AHEAD_MESSAGES in flight, within the read-ahead budget."""
        if self._share <= 0:
            return
        for entry in entries:
            if len(self._prefetches) >= READ_AHEAD_MESSAGES:
                return
            if entry not in self._prefetches:
                task = asyncio.create_task(asyncio.to_thread(self._first_chunk, entry))
                self._prefetches[entry] = _Prefetch(entry, task)

    async def close(self) -> None:
        """Drop every read-ahead (the session is over)."""
        for entry in list(self._prefetches):
            await self._take(entry, keep=False)

    def _first_chunk(self, entry: MessageEntry) -> tuple[ObjectBody, bytes]:
        body = self._store.open_object(entry.object_key)
        try:
            return body, body.read(min(CHUNK_SIZE, self._share))
        except BaseException:
            _close(body)
            raise

    async def _take(
        self, entry: MessageEntry, *, keep: bool = True
    ) -> tuple[ObjectBody, bytes] | None:
        """The read-ahead of `entry`, if there is one and it worked (closed unless `keep`)."""
        prefetch = self._prefetches.pop(entry, None)
        if prefetch is None:
            return None
        try:
            body, first = await prefetch.task
        except StoreError:
            return None  # read afresh: a fault now gets its -ERR [SYS/TEMP] there
        if keep:
            return body, first
        await asyncio.to_thread(_close, body)
        return None

    async def _open(self, entry: MessageEntry, start: int, end: int | None = None) -> ObjectBody:
        return await asyncio.to_thread(
            self._store.open_object, entry.object_key, start=start, end=end
        )

    async def _top(self, entry: MessageEntry, lines: int) -> AsyncGenerator[bytes, None]:
        """TOP (RFC 1939 §7): ranged GETs, the first sized to the header block plus an estimate of
        `lines` body lines; the caller stops iterating once the lines are out."""
        start, end = 0, min(entry.size, entry.header_size + (lines + 1) * TOP_LINE_ESTIMATE)
        while start < entry.size:
            body = await self._open(entry, start, end)
            try:
                while chunk := await asyncio.to_thread(body.read, CHUNK_SIZE):
                    yield chunk
            finally:
                await asyncio.to_thread(_close, body)
            start, end = end, min(entry.size, end + 2 * end)


def _close(body: ObjectBody) -> None:
    """Close a GetObject's body; a failure to close one being dropped changes nothing."""
    with contextlib.suppress(StoreError):
        body.close()
