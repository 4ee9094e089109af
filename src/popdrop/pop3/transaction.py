"""One maildrop's TRANSACTION state (RFC 1939 §5): the snapshot fixed at login, one deletion mark
per message, and the commands that read them. Per login, as aiosmtpd's `Envelope` is per mail
transaction; what belongs to the connection is a `ConnectionState`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from popdrop.model import MessageEntry, Snapshot
from popdrop.pop3 import replies

# Also the reply for a message marked deleted: RFC 1939 §5 makes those invisible.
NO_SUCH_MESSAGE: Final = replies.err("No such message.")


class Transaction:
    __slots__ = ("_count", "_deleted", "_messages", "_octets", "mailbox")

    def __init__(self, snapshot: Snapshot) -> None:
        self.mailbox: Final = snapshot.mailbox
        self._messages = snapshot.messages
        # Kept as marks change, so STAT is O(1): the messages not marked deleted, their octets.
        self._count = self._octets = 0
        self._deleted = bytearray()
        self.reset()

    def reset(self) -> None:
        """No message marked deleted: at login and RSET (RFC 1939 §5)."""
        self._deleted = bytearray(len(self._messages))
        self._count = len(self._messages)
        self._octets = sum(entry.size for entry in self._messages)

    def message(self, number: int) -> MessageEntry | None:
        """Message `number` unless it does not exist or is marked deleted (RFC 1939 §5)."""
        if number > len(self._messages) or self._deleted[number - 1]:
            return None
        return self._messages[number - 1]

    def deletions(self) -> tuple[MessageEntry, ...]:
        """The messages marked deleted, for the UPDATE state (RFC 1939 §6)."""
        return tuple(e for e, d in zip(self._messages, self._deleted, strict=True) if d)

    def stat(self) -> bytes:
        return replies.ok_numbers(self._count, self._octets)  # RFC 1939 §5: exactly "nn mm"

    def list(self, number: int | None) -> bytes:
        """RFC 1939 §5 LIST: "n size" for one message, or for every one not marked deleted."""
        if number is None:
            status = replies.ok(f"{self._count} messages ({self._octets} octets)")
            return replies.multiline(status, (f"{n} {entry.size}" for n, entry in self._visible()))
        entry = self.message(number)
        return NO_SUCH_MESSAGE if entry is None else replies.ok_numbers(number, entry.size)

    def uidl(self, number: int | None) -> bytes:
        """RFC 1939 §7 UIDL: "n unique-id" for one message, or for every one not marked deleted."""
        if number is None:
            lines = (f"{n} {entry.uid}" for n, entry in self._visible())
            return replies.multiline(replies.ok("Unique-ID listing follows."), lines)
        entry = self.message(number)
        return NO_SUCH_MESSAGE if entry is None else replies.ok(f"{number} {entry.uid}")

    def dele(self, number: int) -> bytes:
        entry = self.message(number)
        if entry is None:
            return NO_SUCH_MESSAGE
        self._deleted[number - 1] = 1  # message numbers never shift (RFC 1939 §5 DELE)
        self._count -= 1
        self._octets -= entry.size
        return replies.ok(f"Message {number} deleted.")

    def rset(self) -> bytes:
        self.reset()
        return replies.ok(f"Maildrop has {self._count} messages ({self._octets} octets).")

    def _visible(self) -> Iterator[tuple[int, MessageEntry]]:
        for index, entry in enumerate(self._messages):
            if not self._deleted[index]:
                yield index + 1, entry
