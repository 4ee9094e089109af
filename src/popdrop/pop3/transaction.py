"""One maildrop's TRANSACTION state (RFC 1939 §5): the snapshot fixed at login, one mark per
message, and the commands that read them. Per login (and, in a POP4 session, per folder selected),
as aiosmtpd's `Envelope` is per mail transaction; what belongs to the connection is a
`ConnectionState`.

A mark is DELE's (RFC 1939 §5) or POP4 MOVE's: either way the message is invisible until RSET, and
QUIT carries the marks out (docs/pop4.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from popdrop.model import FolderId, MessageEntry, Snapshot
from popdrop.pop3 import replies

# Also the reply for a message marked deleted: RFC 1939 §5 makes those invisible.
NO_SUCH_MESSAGE: Final = replies.err("No such message.")
_DELETED: Final = 1
_MOVED: Final = 2


class Transaction:
    __slots__ = ("_count", "_marks", "_messages", "_moves", "_octets", "folder", "mailbox")

    def __init__(self, snapshot: Snapshot) -> None:
        self.mailbox: Final = snapshot.mailbox
        self.folder: Final = snapshot.folder
        self._messages = snapshot.messages
        # Kept as marks change, so STAT is O(1): the messages not marked, their octets.
        self._count = self._octets = 0
        self._marks = bytearray()
        self._moves: dict[int, FolderId] = {}  # message index -> the folder it moves to
        self.reset()

    @property
    def count(self) -> int:
        return self._count

    @property
    def octets(self) -> int:
        return self._octets

    def reset(self) -> None:
        """No message marked: at login and RSET (RFC 1939 §5)."""
        self._marks = bytearray(len(self._messages))
        self._moves.clear()
        self._count = len(self._messages)
        self._octets = sum(entry.size for entry in self._messages)

    def message(self, number: int) -> MessageEntry | None:
        """Message `number` unless it does not exist or is marked (RFC 1939 §5)."""
        if number > len(self._messages) or self._marks[number - 1]:
            return None
        return self._messages[number - 1]

    def deletions(self) -> tuple[MessageEntry, ...]:
        """The messages marked deleted, for the UPDATE state (RFC 1939 §6)."""
        marked = zip(self._messages, self._marks, strict=True)
        return tuple(entry for entry, mark in marked if mark == _DELETED)

    def moves(self) -> tuple[tuple[MessageEntry, FolderId], ...]:
        """The messages marked moved, each with its folder (POP4 MOVE)."""
        return tuple((self._messages[index], folder) for index, folder in self._moves.items())

    def moving_to(self, folder: FolderId) -> bool:
        return folder in self._moves.values()

    def move(self, number: int, folder: FolderId) -> bytes:
        """POP4 MOVE: mark the message to go to `folder` at QUIT; it leaves this listing now."""
        if self._mark(number, _MOVED) is None:
            return NO_SUCH_MESSAGE
        self._moves[number - 1] = folder
        return replies.ok(f"Message {number} moves at QUIT.")

    def stat(self) -> bytes:
        return replies.ok_numbers(self._count, self._octets)  # RFC 1939 §5: exactly "nn mm"

    def list(self, number: int | None) -> bytes:
        """RFC 1939 §5 LIST: "n size" for one message, or for every one not marked deleted."""
        if number is None:
            status = replies.ok(f"{self._count} messages ({self._octets} octets)")
            return replies.numbered(
                status, [f"{n} {entry.size}\r\n" for n, entry in self._visible()]
            )
        entry = self.message(number)
        return NO_SUCH_MESSAGE if entry is None else replies.ok_numbers(number, entry.size)

    def uidl(self, number: int | None) -> bytes:
        """RFC 1939 §7 UIDL: "n unique-id" for one message, or for every one not marked deleted."""
        if number is None:
            lines = [f"{n} {entry.uid}\r\n" for n, entry in self._visible()]
            return replies.numbered(replies.ok("Unique-ID listing follows."), lines)
        entry = self.message(number)
        return NO_SUCH_MESSAGE if entry is None else replies.ok(f"{number} {entry.uid}")

    def dele(self, number: int) -> bytes:
        if self._mark(number, _DELETED) is None:
            return NO_SUCH_MESSAGE
        return replies.ok(f"Message {number} deleted.")

    def _mark(self, number: int, mark: int) -> MessageEntry | None:
        entry = self.message(number)
        if entry is not None:
            self._marks[number - 1] = mark  # message numbers never shift (RFC 1939 §5 DELE)
            self._count -= 1
            self._octets -= entry.size
        return entry

    def rset(self) -> bytes:
        self.reset()
        return replies.ok(f"Maildrop has {self._count} messages ({self._octets} octets).")

    def _visible(self) -> Iterable[tuple[int, MessageEntry]]:
        if self._count == len(self._messages):  # nothing marked: the common case, no test each
            return enumerate(self._messages, 1)
        marks = self._marks
        return (
            (index + 1, entry) for index, entry in enumerate(self._messages) if not marks[index]
        )
