"""The message reader's pieces against moto: what a RETR costs in thread hops depends on them."""

from __future__ import annotations

import asyncio

from popd.reader import CHUNK_SIZE, READ_AHEAD_MESSAGES, MessageReader
from popdrop.model import MessageEntry
from popdrop.store import Store
from tests.support import deliver

from .conftest import ADDRESS

SIZE = 3 * CHUNK_SIZE + 1000
# CRLF lines, one in ten starting with a dot, as mail and bench/corpus.py have them.
BODY = b"".join(
    (b"." if n % 10 == 9 else b"x") + b"%07d" % n + b"y" * 64 + b"\r\n" for n in range(SIZE // 74)
)
MESSAGE = b"Subject: big\r\n\r\n" + BODY


def _read(reader: MessageReader, entry: MessageEntry) -> list[bytes]:
    async def go() -> list[bytes]:
        return [chunk async for chunk in reader.chunks(entry)]

    return asyncio.run(go())


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
    reader = MessageReader(store, read_ahead_bytes=budget)

    async def go() -> list[bytes]:
        reader.read_ahead([entry])
        chunks = [chunk async for chunk in reader.chunks(entry)]
        await reader.close()
        return chunks

    chunks = asyncio.run(go())

    share = budget // READ_AHEAD_MESSAGES
    assert b"".join(chunks) == MESSAGE
    assert len(chunks[0]) == share
    assert [len(chunk) for chunk in chunks[1:-1]] == [CHUNK_SIZE] * (len(chunks) - 2)


def test_a_message_read_without_read_ahead_comes_in_full_chunks(
    store: Store, mailbox: str
) -> None:
    entry = _big_entry(store, mailbox)

    chunks = _read(MessageReader(store, read_ahead_bytes=0), entry)

    assert b"".join(chunks) == MESSAGE
    assert [len(chunk) for chunk in chunks[:-1]] == [CHUNK_SIZE] * (len(chunks) - 1)
