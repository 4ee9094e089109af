"""Waiting for the signals that stop a foreground server."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def until_stop_signal(reload: Callable[[], None] | None = None) -> None:
    """Return when SIGINT or SIGTERM arrives (ECS and Ctrl-C), restoring the default handlers.

    With `reload`, SIGHUP calls it (the certificate reload) and keeps waiting.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = [*STOP_SIGNALS]
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, reload)
        handled.append(signal.SIGHUP)
    try:
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
