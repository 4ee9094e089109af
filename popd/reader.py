"""One session's message reads: RETR streaming with read-ahead, TOP and POP4's PART by byte range.

Every storage call runs in the thread pool, one chunk per hop, and the caller asks for the next
chunk only after writing the last one (back-pressure), so a session holds at most one chunk of the
message it sends plus the read-ahead budget, however large the message (DESIGN: memory per session
is bounded). How large a chunk is depends on how many messages the daemon streams at once: the
daemon-wide `StreamBudget` is shared out among them, between 64 KiB and 1 MiB each, so a few
downloads go in large, cheap pieces and many at once stay within the budget.

Read-ahead: once RETR n has its first chunk, the GetObjects of the messages after it that the
session's `ReadAheadWindow` names (none unless the client reads in order; then up to
READ_AHEAD_MESSAGES) are started and their first chunks read, within the session's byte budget,
so a client that downloads the maildrop in order waits for S3's first-byte latency once, not on
every message; RETR n + 1 then continues that same response (still one GET per message), and a
TOP of a prefetched message answers from its first chunk when that holds the lines. Prefetches
the window no longer names (the client went elsewhere) are dropped at once. A prefetched response
may have sat idle while the client read earlier messages; should it fail part-way, the rest is
fetched once more with a ranged GET from where it broke off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from popd.read_ahead import ReadAheadWindow
from popdrop.faces.faults import StoreError
from popdrop.faces.pop3 import MaildropStore, ObjectBody
from popdrop.model import MessageEntry

# Each thread hop costs the same CPU whatever it carries (the hop, botocore's and the event loop's
# work per call), so large RETRs are cheaper in larger chunks (docs/engine.md, "Streaming"). The
# budget sets the size between these bounds; a multiple of MIN_CHUNK.
MIN_CHUNK: Final = 64 * 1024
MAX_CHUNK: Final = 1024 * 1024
# TOP reads the header block plus this many octets per requested body line in its first ranged
# GET; mail lines are at most 78 characters by convention (RFC 5322 §2.1.1), so one GET nearly
# always suffices. When it does not, each further ranged GET asks for twice as much again.
TOP_LINE_ESTIMATE: Final = 160
# Messages fetched ahead at most (the window's limit). A client reading in order asks for the next
# message a few milliseconds after the last, so sixteen in flight cover S3's 20-30 ms first-byte
# latency (docs/performance.md has the measurements). Each gets an equal share of the byte budget.
READ_AHEAD_MESSAGES: Final = 16
# HANDING ON: a generator suspended at `yield chunk` keeps `chunk` in its frame until it resumes,
# which for a client that stopped reading is until the idle timeout: one more chunk held per
# generator per session (measured: about 1 MiB of the 3 MiB a stalled session cost). So each
# generator here yields a chunk through a one-item list it empties, keeping no name bound to it.


class StreamBudget:
    """The octets the daemon's message streams may hold at once, shared out equally among them.

    Used from the event loop only. Each stream reads `chunk_size()` octets per hop, asked afresh
    every time, so a stream's pieces shrink as others start and grow back as they end; memory for
    chunks in flight stays near `total`, and never below MIN_CHUNK per stream.
    """

    def __init__(self, total: int) -> None:
        if total < MIN_CHUNK:
            raise ValueError(f"a stream budget below {MIN_CHUNK} octets: {total}")
        self._total = total
        self._streams = 0

    @property
    def streams(self) -> int:
        return self._streams

    def chunk_size(self) -> int:
        share = self._total // max(1, self._streams)
        return max(MIN_CHUNK, min(MAX_CHUNK, share - share % MIN_CHUNK))

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        self._streams += 1
        try:
            yield
        finally:
            self._streams -= 1


@dataclass
class _Prefetch:
    entry: MessageEntry
    task: asyncio.Task[tuple[ObjectBody, bytes]]


class MessageReader:
    def __init__(
        self, store: MaildropStore, budget: StreamBudget, *, read_ahead_bytes: int
    ) -> None:
        self._store = store
        self._budget = budget
        self._share = read_ahead_bytes // READ_AHEAD_MESSAGES
        self._window = ReadAheadWindow(READ_AHEAD_MESSAGES if self._share > 0 else 0)
        self._prefetches: dict[MessageEntry, _Prefetch] = {}

    async def chunks(
        self,
        entry: MessageEntry,
        top_lines: int | None = None,
        part: tuple[int, int] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """The stored message (RETR), or enough of it for `top_lines` body lines (TOP), or octets
        [start, end) of it from one ranged GET (POP4 PART, docs/pop4.md), in chunks.

        The first chunk arrives before anything is sent, so an error then can still be answered
        with -ERR; the body is closed however the caller stops iterating. The stream counts in
        the daemon's budget until then.
        """
        with self._budget.stream():
            if part is not None:
                pieces = self._range(entry, *part)
            elif top_lines is None:
                pieces = self._retr(entry)
            else:
                pieces = self._top(entry, top_lines)
            async with contextlib.aclosing(pieces):
                async for chunk in pieces:
                    hand = [chunk]
                    del chunk  # see HANDING ON
                    yield hand.pop()

    def read_ahead(self, number: int, listing: Sequence[MessageEntry]) -> None:
        """RETR `number` (of `listing`, numbered from 1 as RFC 1939 §7 does) has its first
        chunk: have exactly the messages the window names in flight, dropping the others."""
        wanted = [listing[n - 1] for n in self._window.retr(number) if n <= len(listing)]
        for entry in [entry for entry in self._prefetches if entry not in wanted]:
            self._drop(self._prefetches.pop(entry))
        for entry in wanted:
            if entry not in self._prefetches:
                task = asyncio.create_task(asyncio.to_thread(self._first_chunk, entry))
                self._prefetches[entry] = _Prefetch(entry, task)

    async def close(self) -> None:
        """Drop every read-ahead (the session is over)."""
        for entry in list(self._prefetches):
            await self._take(entry, keep=False)

    def _drop(self, prefetch: _Prefetch) -> None:
        """Close a prefetch nobody will read once its GET is done, without waiting for it."""

        def close(task: asyncio.Task[tuple[ObjectBody, bytes]]) -> None:
            if not task.cancelled() and task.exception() is None:
                body, _ = task.result()
                asyncio.get_running_loop().run_in_executor(None, _close, body)

        prefetch.task.add_done_callback(close)

    async def _retr(self, entry: MessageEntry) -> AsyncGenerator[bytes, None]:
        prefetched = await self._take(entry)
        body, first = prefetched or (await self._open(entry, 0), b"")
        resumable, offset = prefetched is not None, len(first)
        try:
            if first:
                yield first
            while True:
                # The budget's size whatever the first read was: a read-ahead's first chunk is only
                # its share of the read-ahead bytes, and a 5 MB message read on in such 4 KiB
                # pieces cost 9x the CPU.
                try:
                    chunk = await self._read(body)
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
                hand = [chunk]
                del chunk  # see HANDING ON
                yield hand.pop()
        finally:
            await asyncio.to_thread(_close, body)

    async def _read(self, body: ObjectBody) -> bytes:
        return await asyncio.to_thread(body.read, self._budget.chunk_size())

    def _first_chunk(self, entry: MessageEntry) -> tuple[ObjectBody, bytes]:
        body = self._store.open_object(entry.object_key)
        try:
            return body, body.read(self._share)
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

    async def _prefetched_start(self, entry: MessageEntry) -> bytes:
        """The first chunk of `entry`'s read-ahead (waiting for it if it is in flight), or b"".
        Shielded: a TOP that stops waiting must not cancel the prefetch a RETR may still use."""
        prefetch = self._prefetches.get(entry)
        if prefetch is None:
            return b""
        try:
            _, first = await asyncio.shield(prefetch.task)
        except StoreError:
            return b""
        return first

    async def _open(self, entry: MessageEntry, start: int, end: int | None = None) -> ObjectBody:
        return await asyncio.to_thread(
            self._store.open_object, entry.object_key, start=start, end=end
        )

    async def _range(
        self, entry: MessageEntry, start: int, end: int
    ) -> AsyncGenerator[bytes, None]:
        """Octets [start, end) of the message, from one ranged GET."""
        body = await self._open(entry, start, end)
        try:
            while chunk := await self._read(body):
                hand = [chunk]
                del chunk  # see HANDING ON
                yield hand.pop()
        finally:
            await asyncio.to_thread(_close, body)

    async def _top(self, entry: MessageEntry, lines: int) -> AsyncGenerator[bytes, None]:
        """TOP (RFC 1939 §7): ranged GETs, the first sized to the header block plus an estimate of
        `lines` body lines; the caller stops iterating once the lines are out."""
        first = await self._prefetched_start(entry)
        if first:
            yield first  # the prefetch stays for a RETR of this message
        start = len(first)
        end = min(entry.size, entry.header_size + (lines + 1) * TOP_LINE_ESTIMATE)
        if end <= start:
            end = min(entry.size, 3 * start)
        while start < entry.size:
            async with contextlib.aclosing(self._range(entry, start, end)) as pieces:
                async for chunk in pieces:
                    hand = [chunk]
                    del chunk  # see HANDING ON
                    yield hand.pop()
            start, end = end, min(entry.size, end + 2 * end)


def _close(body: ObjectBody) -> None:
    """Close a GetObject's body; a failure to close one being dropped changes nothing."""
    with contextlib.suppress(StoreError):
        body.close()
