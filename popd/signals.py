"""The signals that stop (and reload) a foreground server.

Handlers go in before any start-up work: in a container popd is PID 1, for which the kernel
ignores a signal that has no handler, so a SIGTERM that arrived while popd was still reading its
certificate or binding its ports would be lost and ECS would wait out `stopTimeout` to SIGKILL it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")


class StopSignals:
    """While entered: SIGINT and SIGTERM set `stopping`; SIGHUP calls `on_reload` if one is set.
    Leaving restores the default handlers."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.on_reload: Callable[[], None] | None = None
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._loop.add_signal_handler(signum, self.stopping.set)
        self._loop.add_signal_handler(signal.SIGHUP, self._reload)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum in (*STOP_SIGNALS, signal.SIGHUP):
            self._loop.remove_signal_handler(signum)

    def _reload(self) -> None:
        if self.on_reload is not None:
            self.on_reload()

    async def unless_stopped(self, work: Coroutine[Any, Any, T]) -> tuple[T] | None:
        """Run `work` unless a stop signal comes first, which cancels it: (its result,) when it
        finished, None when it was stopped. Its exceptions propagate."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done():
            return (task.result(),)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None


async def until_stop_signal(reload: Callable[[], None] | None = None) -> None:
    """Return when SIGINT or SIGTERM arrives (ECS and Ctrl-C); SIGHUP calls `reload`."""
    with StopSignals() as signals:
        signals.on_reload = reload
        await signals.stopping.wait()
