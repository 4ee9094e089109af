"""When to fetch messages ahead of the client's RETRs: a window that opens only while the client
reads in order, as an operating system's file read-ahead does.

Sans-IO: given each RETR's message number, it says which message numbers should be in flight. A
first RETR, or one that does not follow the previous RETR (reverse order, a jump, a sparse
selection), fetches nothing ahead, since nothing says which message comes next; each RETR that
follows the previous one doubles the window (1, 2, 4, ... up to `limit`). So RETR 1 alone costs
one GET, and a client downloading the maildrop in order has the next messages in flight from its
third message on, paying at most the window's GETs for messages it then does not read (it
disconnects, or jumps elsewhere: a jump drops what was fetched for the old position).
"""

from __future__ import annotations


class ReadAheadWindow:
    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"a read-ahead window of at most {limit} messages")
        self._limit = limit
        self._last: int | None = None
        self._window = 0

    @property
    def window(self) -> int:
        return self._window

    def retr(self, number: int) -> range:
        """RETR `number` is starting: the message numbers to have in flight after it."""
        if self._last is not None and number == self._last + 1:
            self._window = min(self._limit, max(1, 2 * self._window))
        else:
            self._window = 0
        self._last = number
        return range(number + 1, number + 1 + self._window)
