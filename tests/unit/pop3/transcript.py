"""Helpers for POP3 session tests: a maildrop's snapshot to log in to, and a client that speaks
lines."""

from __future__ import annotations

from popdrop.model import Address, MessageEntry, Snapshot
from popdrop.pop3.actions import Action, Authenticate, Send, SendMessage
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.session import Session

MAILBOX = Address("alice@example.test")
# A connection where USER/PASS are allowed (the operator's plaintext switch, as in `dev`).
PLAINTEXT = SessionConfig(plaintext_allowed=True)


def entry(number: int, size: int = 100) -> MessageEntry:
    return MessageEntry(
        mailbox=MAILBOX,
        uid=f"uid-{number}",
        object_key=f"incoming/{number}",
        size=size,
        header_size=min(size, 40),
        arrived_at=1_700_000_000_000 + number,
    )


def snapshot(*sizes: int) -> Snapshot:
    """A snapshot whose message n (1-based) has size sizes[n-1] and uid "uid-n"."""
    return Snapshot(MAILBOX, tuple(entry(n, size) for n, size in enumerate(sizes, 1)))


def wire(actions: list[Action]) -> bytes:
    """What reaches the client: every Send, and a SendMessage's status line."""
    out = b""
    for action in actions:
        if isinstance(action, Send):
            out += action.data
        elif isinstance(action, SendMessage):
            out += action.status
    return out


class Client:
    """Sends one line at a time and returns the actions of exactly that line."""

    def __init__(self, config: SessionConfig = PLAINTEXT) -> None:
        self.session = Session(config)
        self.greeting = wire(self.session.greeting())

    def send(self, line: str | bytes) -> list[Action]:
        data = line.encode() if isinstance(line, str) else line
        self.session.receive_data(data + b"\r\n")
        actions = self.session.next_actions()
        assert actions is not None, f"no actions for {line!r}"
        return actions

    def say(self, line: str | bytes) -> bytes:
        """The reply bytes to one line."""
        return wire(self.send(line))

    def login(self, drop: Snapshot | None = None) -> Client:
        """USER, PASS and a successful login_result: the session is in TRANSACTION."""
        self.say(f"USER {MAILBOX}")
        [authenticate] = self.send("PASS secret")
        assert isinstance(authenticate, Authenticate)
        actions = self.session.login_result(drop or snapshot(100, 200, 300))
        assert wire(actions) == b"+OK Logged in.\r\n"
        return self
