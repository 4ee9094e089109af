"""The connection's stream reader, which lets a window of commands be answered where it arrives.

asyncio's `StreamReader` wakes the task waiting in `read()` for every chunk a client writes: the
task's step is scheduled, the event loop turns once more, and the task's frames resume only to
run the session and write its replies. For a pipelined window of single-reply commands (STAT,
LIST n, UIDL n, NOOP) that wake-up was most of the connection's cost per window
(docs/performance.md, "Pipelined commands"). So while the connection's task waits for input, this
reader first offers each chunk to the connection's `answer` callback, inside the protocol's
`data_received`:

- `Inline.DECLINED`: the connection did not take the chunk; it is read as usual.
- `Inline.ANSWERED`: every command in it was answered; the task sleeps on.
- `Inline.HANDED`: the session met something only the task can do (a login, a RETR, QUIT): the
  task is woken, its `read()` returns b"" and the connection picks up where the callback stopped.
  Until it calls `take_over`, what arrives next is held back rather than buffered, so that the
  task's read cannot return it (an STLS handed over must find those octets unread, to discard
  them: RFC 2595 §4).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable


class Inline(enum.Enum):
    DECLINED = enum.auto()
    ANSWERED = enum.auto()
    HANDED = enum.auto()


class InlineReader(asyncio.StreamReader):
    # asyncio's own state, which the stubs do not declare.
    _buffer: bytearray
    _waiter: asyncio.Future[None] | None

    def __init__(self, limit: int) -> None:
        super().__init__(limit=limit)
        self.answer: Callable[[bytes], Inline] | None = None
        self._handing = False
        self._held = bytearray()  # at most what arrives in one turn of the loop
        self._eof_held = False

    def feed_data(self, data: bytes) -> None:  # type: ignore[override]
        if self._handing:
            self._held += data
            return
        waiter = self._waiter
        answer = self.answer
        if answer is None or not data or self._buffer or waiter is None or waiter.done():
            super().feed_data(data)
            return
        match answer(data):
            case Inline.DECLINED:
                super().feed_data(data)
            case Inline.HANDED:
                self._handing = True
                self._waiter = None
                waiter.set_result(None)
            case Inline.ANSWERED:
                pass

    def feed_eof(self) -> None:
        if self._handing:
            self._eof_held = True
            return
        super().feed_eof()

    def take_over(self) -> None:
        """The task has what was handed to it: what arrived since is read as usual."""
        self._handing = False
        held, self._held = bytes(self._held), bytearray()
        if held:
            super().feed_data(held)
        if self._eof_held:
            super().feed_eof()
