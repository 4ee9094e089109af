"""The mail both servers are filled with: the same accounts and byte-identical messages.

Messages are deterministic RFC 5322 text with CRLF line ends, lines of 76 characters and one
line in ten starting with a dot (so dot-stuffing is exercised on the way out).
"""

from __future__ import annotations

from dataclasses import dataclass

PASSWORD = "bench-password-0"
# The app password (popdrop only) of the first `Layout.app_mailboxes` idle mailboxes.
APP_PASSWORD = "bench-app-password-0"
DOMAIN = "bench.test"
SMALL = 4 * 1024
LARGE = 5 * 1024 * 1024


def message(number: int, size: int, recipient: str) -> bytes:
    head = (
        f"From: load <load@{DOMAIN}>\r\nTo: {recipient}\r\n"
        f"Subject: bench message {number}\r\n"
        f"Message-ID: <{number}.{size}@{DOMAIN}>\r\n"
        "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n\r\n"
    ).encode()
    lines = []
    length = len(head)
    index = 0
    while length < size:
        prefix = "." if index % 10 == 9 else "x"
        line = f"{prefix}{number:08d}-{index:08d}-".ljust(74, "y").encode() + b"\r\n"
        lines.append(line)
        length += len(line)
        index += 1
    return head + b"".join(lines)


@dataclass(frozen=True, slots=True)
class Layout:
    """Which mailbox holds what. `sessions` mailboxes serve the concurrent session workers (each
    maildrop is held by one session at a time); `small` and `large` the RETR scenarios; `idle`
    mailboxes (empty, one per session held, and for the login scenarios) are distinct mailboxes
    with the same password, the first `app_mailboxes` of them with an app password too."""

    small_count: int = 500
    large_count: int = 4
    session_mailboxes: int = 4
    session_messages: int = 10
    idle_mailboxes: int = 0
    app_mailboxes: int = 0

    @property
    def session_users(self) -> list[str]:
        return [f"sess{i}@{DOMAIN}" for i in range(self.session_mailboxes)]

    @staticmethod
    def idle_user(number: int) -> str:
        return f"idle{number}@{DOMAIN}"

    @property
    def small_user(self) -> str:
        return f"small@{DOMAIN}"

    @property
    def large_user(self) -> str:
        return f"large@{DOMAIN}"

    def mailboxes(self) -> dict[str, list[tuple[int, int]]]:
        """address -> [(message number, size)]: what each mailbox holds, in delivery order."""
        boxes = {
            user: [(n, SMALL) for n in range(self.session_messages)] for user in self.session_users
        }
        boxes[self.small_user] = [(n, SMALL) for n in range(self.small_count)]
        boxes[self.large_user] = [(n, LARGE) for n in range(self.large_count)]
        boxes |= {self.idle_user(n): [] for n in range(self.idle_mailboxes)}
        return boxes
