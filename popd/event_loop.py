"""The event loop every popd daemon runs on: uvloop's (libuv), not asyncio's selector loop.

Measured (docs/performance.md, "The event loop"): what a pipelined window of commands costs
beyond the session's own work is the loop's, one `epoll_wait`, one `recv` and one `send` and the
Python around them; uvloop does that part in C. Everything the daemon uses (stream transports,
`start_tls` for STLS, `sock_accept`/`sock_recv`/`connect_accepted_socket` in the listener, signal
handlers, timers, the default thread pool) is asyncio's interface, so the code is the same on
either loop; the suite runs the daemon on this one (tests/support.py), as production does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of the kind the daemon runs on."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the daemon's kind of loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
