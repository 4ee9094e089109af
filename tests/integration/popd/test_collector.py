"""The cyclic collector in the daemon (popd/collector.py): full passes walk what is new, what a
pass froze is bounded, and a finished session leaves no cycle for it to find."""

from __future__ import annotations

import gc
import json
import logging
import poplib
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon
from tests.support import RawClient


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """The objects the collector finds unreachable from now on, kept for inspection
    (`gc.DEBUG_SAVEALL`) with automatic passes off; the collector restored afterwards."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


def _logouts(caplog: pytest.LogCaptureFixture, count: int) -> None:
    deadline = time.monotonic() + 60
    while sum(r.getMessage() == "pop3.logout" for r in caplog.records) < count:
        assert time.monotonic() < deadline, "the sessions did not end"
        time.sleep(0.05)


def test_a_finished_session_leaves_no_cycle_of_popds_or_the_event_loops(
    daemon: Daemon, caplog: pytest.LogCaptureFixture, saved_garbage: list[object]
) -> None:
    """Once a session ends its objects are freed by reference counting, not by a collector pass:
    so they are freed even when a full pass froze them while the session was held. (On asyncio's
    selector loop a transport is a cycle of its own; on uvloop, the daemon's loop, it is not.)"""
    caplog.set_level(logging.INFO, logger="popd")
    plain = poplib.POP3("127.0.0.1", daemon.endpoints.pop3_port, timeout=30)
    plain.user(ADDRESS)
    plain.pass_(PASSWORD)
    plain.stat()
    plain.quit()
    assert daemon.endpoints.pop3s_port is not None
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    secure = poplib.POP3_SSL("localhost", daemon.endpoints.pop3s_port, context=context, timeout=30)
    secure.user(ADDRESS)
    secure.pass_(PASSWORD)
    secure.uidl()
    secure.quit()
    dropped = RawClient(daemon.endpoints.pop3_port)
    dropped.line()
    dropped.command(f"USER {ADDRESS}")
    dropped.command("PASS wrong")
    dropped.close()
    _logouts(caplog, 3)
    gc.collect()
    ours = sorted(
        {
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in saved_garbage
            if type(o).__module__.split(".")[0] in {"popd", "popdrop", "asyncio", "uvloop", "ssl"}
        }
    )
    assert ours == []


# Runs in its own interpreter: the freezer is process-wide, and the test's own process must keep
# CPython's collector as it is. `_started` is what every popdrop command calls after start-up.
_FREEZER = """
import gc, json, weakref
from popd import cli

class Node:
    __slots__ = ("peer", "__weakref__")

def pair():
    a, b = Node(), Node()
    a.peer, b.peer = b, a
    return a

cli._started()
gc.disable()  # passes only where this script asks for them: the same callback runs
held = [[n] for n in range(100_000)]  # long-lived: the objects of held sessions, say
gc.collect()
gc.collect()
settled = gc.get_freeze_count()
walked_after_holding = len(gc.get_objects())
new = [[n] for n in range(1_000)]
walked_next = len(gc.get_objects())
gc.collect()

cycles = [pair() for _ in range(40_000)]  # frozen while alive, then unreachable
gc.collect()
probe = weakref.ref(cycles[0])
del cycles
gc.collect()
kept_under_bound = probe() is not None
more = [[n] for n in range(settled)]  # the frozen objects outgrow twice the settled ones
passes = 0
while probe() is not None and passes < 10:
    gc.collect()
    passes += 1
print(json.dumps({
    "settled": settled, "walked_after_holding": walked_after_holding, "walked_next": walked_next,
    "kept_under_bound": kept_under_bound, "passes": passes, "freed": probe() is None,
    "frozen_after": gc.get_freeze_count(),
}))
"""


def test_a_full_pass_walks_what_is_new_and_frozen_garbage_is_bounded() -> None:
    """100,000 long-lived objects are walked by a full pass once, not by every pass; cycles that
    die frozen are freed once the frozen objects outgrow the bound."""
    run = subprocess.run(
        [sys.executable, "-c", _FREEZER], capture_output=True, text=True, timeout=300, check=True
    )
    figures = json.loads(run.stdout)
    # Held objects left the passes' walk: a pass walks only what is new.
    assert figures["settled"] >= 100_000
    assert figures["walked_after_holding"] < 1_000
    assert 1_000 <= figures["walked_next"] < 2_000
    # Cycles that died frozen wait for the bound (80,000 objects, under twice the settled ones),
    # then the walk of everything frees them, and the frozen objects are the live ones again.
    assert figures["kept_under_bound"]
    assert figures["freed"] and figures["passes"] == 2
    assert figures["frozen_after"] <= 2 * figures["settled"] + 2_000
