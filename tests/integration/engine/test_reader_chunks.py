"""The message reader's pieces against moto: what a RETR costs in thread hops depends on them, and
what all RETRs at once hold in memory on the daemon's stream budget."""

from __future__ import annotations

import contextlib

import pytest

from popd import event_loop
from popd.reader import MAX_CHUNK, MIN_CHUNK, READ_AHEAD_MESSAGES, MessageReader, StreamBudget
from popdrop.model import MessageEntry
from popdrop.store import Store
from tests.support import deliver

from .conftest import ADDRESS

SIZE = 3 * MAX_CHUNK + 1000
# CRLF lines, one in ten starting with a dot, as mail and bench/corpus.py have them.
BODY = b"".join(
    (b"." if n % 10 == 9 else b"x") + b"%07d" % n + b"y" * 64 + b"\r\n" for n in range(SIZE // 74)
)
MESSAGE = b"Subject: big\r\n\r\n" + BODY


def _read(reader: MessageReader, entry: MessageEntry) -> list[bytes]:
    async def go() -> list[bytes]:
        return [chunk async for chunk in reader.chunks(entry)]

    return event_loop.run(go())


def _big_entry(store: Store, mailbox: str) -> MessageEntry:
    deliver(store, MESSAGE, mailbox)
    (entry,) = store.list_messages(ADDRESS)
    return entry


def test_a_read_ahead_message_goes_on_in_full_chunks_after_its_small_first_one(
    store: Store, mailbox: str
) -> None:
    """A read-ahead reads only its share of the budget first; the rest of the message must not
    be read in pieces that small (bench/: a 5 MB message in 4 KiB pieces cost 4.5x the CPU)."""
    entry = _big_entry(store, mailbox)
    budget = 65536
    reader = MessageReader(store, StreamBudget(MAX_CHUNK), read_ahead_bytes=budget)

    async def go() -> list[bytes]:
        listing = (entry,) * 3
        reader.read_ahead(1, listing)
        reader.read_ahead(2, listing)  # in order: message 3 (this entry) is fetched ahead
        chunks = [chunk async for chunk in reader.chunks(entry)]
        await reader.close()
        return chunks

    chunks = event_loop.run(go())

    share = budget // READ_AHEAD_MESSAGES
    assert b"".join(chunks) == MESSAGE
    assert len(chunks[0]) == share
    assert [len(chunk) for chunk in chunks[1:-1]] == [MAX_CHUNK] * (len(chunks) - 2)


def test_a_message_read_without_read_ahead_comes_in_full_chunks(store: Store, mailbox: str) -> None:
    entry = _big_entry(store, mailbox)

    chunks = _read(MessageReader(store, StreamBudget(MAX_CHUNK), read_ahead_bytes=0), entry)

    assert b"".join(chunks) == MESSAGE
    assert [len(chunk) for chunk in chunks[:-1]] == [MAX_CHUNK] * (len(chunks) - 1)


def test_streams_at_once_share_the_budget_and_take_it_back_when_one_ends(
    store: Store, mailbox: str
) -> None:
    """DESIGN: memory is bounded. A message streaming alone from a 1 MiB budget reads 1 MiB
    pieces; one that starts beside it gets 512 KiB pieces; once that one is done, the first goes
    on in 1 MiB pieces."""
    entry = _big_entry(store, mailbox)
    budget = StreamBudget(MAX_CHUNK)
    first, second = (MessageReader(store, budget, read_ahead_bytes=0) for _ in range(2))

    async def go() -> tuple[list[int], list[int], int]:
        one, two = first.chunks(entry), second.chunks(entry)
        sizes_one = [len(await anext(one))]
        sizes_two = [len(await anext(two)) for _ in range(2)]
        streaming = budget.streams
        await two.aclose()
        sizes_one += [len(chunk) async for chunk in one]
        return sizes_one, sizes_two, streaming

    sizes_one, sizes_two, streaming = event_loop.run(go())

    assert streaming == 2
    assert sizes_two == [MAX_CHUNK // 2] * 2
    assert sizes_one[:3] == [MAX_CHUNK, MAX_CHUNK, MAX_CHUNK]  # alone before and after `two`
    assert sum(sizes_one) == len(MESSAGE)
    assert budget.streams == 0


def test_the_budget_shares_between_its_bounds() -> None:
    budget = StreamBudget(4 * MAX_CHUNK)
    sizes = []
    with contextlib.ExitStack() as streams:
        for _ in range(80):
            streams.enter_context(budget.stream())
            sizes.append(budget.chunk_size())
    assert budget.streams == 0
    assert sizes[:4] == [MAX_CHUNK] * 4
    assert sizes[4] == 4 * MAX_CHUNK // 5 - (4 * MAX_CHUNK // 5) % MIN_CHUNK  # 768 KiB
    assert sizes[-1] == MIN_CHUNK  # 80 streams: never below the floor
    assert all(size % MIN_CHUNK == 0 for size in sizes)
    with pytest.raises(ValueError, match="budget"):
        StreamBudget(MIN_CHUNK - 1)
