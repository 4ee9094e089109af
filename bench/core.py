"""CPU per command of the sans-IO POP3 core alone: no sockets, no event loop, no storage.

Feeds a logged-in `Session` a scenario's windows and joins the reply bytes, as the daemon does per
window; prints the median over rounds of CPU microseconds per command. `--mix commands` is issue
17's STAT, LIST, UIDL, NOOP (LIST and UIDL of the whole maildrop), `--mix pipelined` the first
method's NOOP, STAT, LIST 1, UIDL 1; 16 per window. It separates the protocol's own cost from the
daemon's (asyncio, system calls) in `bench/run.py --only commands pipelined`, and compares
interpreters:

    .venv/bin/python bench/core.py --mix commands
    python3.12 bench/core.py   # with popdrop importable, e.g. from a venv of the runtime lock
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

from loadgen import COMMANDS, PIPELINED

from popdrop.model import Address, MessageEntry, Snapshot
from popdrop.pop3.actions import Send
from popdrop.pop3.config import SessionConfig
from popdrop.pop3.session import Session

MAILBOX = Address("bench@bench.test")


def logged_in(messages: int) -> Session:
    entries = tuple(
        MessageEntry(MAILBOX, f"uid-{n}", f"key-{n}", size=4096, header_size=200, arrived_at=n)
        for n in range(messages)
    )
    session = Session(SessionConfig(plaintext_allowed=True))
    session.greeting()
    session.receive_data(b"USER " + MAILBOX.encode() + b"\r\nPASS secret\r\n")
    session.next_actions()
    session.next_actions()
    session.login_result(Snapshot(MAILBOX, entries))
    return session


MIXES = {"commands": tuple(command for command, _ in COMMANDS), "pipelined": PIPELINED}


def us_per_command(session: Session, windows: int, window: int, mix: tuple[bytes, ...]) -> float:
    batch = b"".join(mix[i % len(mix)] for i in range(window))
    started = time.process_time()
    for _ in range(windows):
        session.receive_data(batch)
        replies = []
        while (actions := session.next_actions()) is not None:
            replies += [action.data for action in actions if isinstance(action, Send)]
        b"".join(replies)
    return (time.process_time() - started) / (windows * window) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--messages", type=int, default=10, help="in the maildrop")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mix", choices=sorted(MIXES), default="commands")
    args = parser.parse_args()
    session = logged_in(args.messages)
    mix = MIXES[args.mix]
    figures = [us_per_command(session, args.windows, args.window, mix) for _ in range(args.rounds)]
    print(
        f"{platform.python_implementation()} {platform.python_version()}: "
        f"{statistics.median(figures):.2f} us of CPU per command, {args.mix} "
        f"(median of {args.rounds} rounds of {args.windows} windows of {args.window})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
