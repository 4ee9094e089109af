"""The cyclic collector in a long-running process: a full pass walks what is new, not what is held.

CPython's full (generation 2) collection walks every object the collector tracks, and stops the
event loop while it does. In the daemon most of those objects belong to held sessions, about 80
each (coroutines, futures, the transport, the reader), which live for minutes. At 10,000 held
sessions a full pass took 0.5 to 0.76 s, and while logins went on one came about every 17 s
(docs/performance.md, "The collector's full passes").

So every full pass freezes its survivors (`gc.freeze`): the next pass walks only the objects made
since, and a held session's objects are walked about once, however long it is held. Objects that
die are still freed by reference counting, frozen or not.

What freezing can keep: a frozen object that later becomes part of an unreachable cycle is not
freed until a pass walks it again. A finished session leaves no cycle, of popd's or of the event
loop's (tests/integration/popd/test_collector.py; asyncio's selector loop would leave its
transport, a bound method of itself, but the daemon runs on uvloop); what remains is the short
lived garbage of requests in flight during a pass (botocore makes a few cycles per call). The
bound: once more objects are frozen than twice the number that survived the last walk of
everything, they are unfrozen, and the next full pass walks everything once. That pass is as long
as before, but it comes when the frozen objects have doubled, not every few seconds.
"""

from __future__ import annotations

import gc
from typing import Any

# The frozen objects may grow to this multiple of those that survived the last walk of everything.
GROWTH = 2


class SurvivorFreezer:
    """A `gc.callbacks` entry: at the end of each full pass, freeze what survived it, or unfreeze
    everything so that the next full pass walks it once (see the module's docstring)."""

    def __init__(self) -> None:
        self.settled = gc.get_freeze_count()  # frozen after the last walk of everything

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        walked_everything = gc.get_freeze_count() == 0  # nothing was frozen during this pass
        gc.freeze()
        if walked_everything:
            self.settled = gc.get_freeze_count()
        elif gc.get_freeze_count() > GROWTH * self.settled:
            gc.unfreeze()  # the next full pass walks everything once


def install() -> SurvivorFreezer:
    """Freeze the survivors of every full pass from now on, in this process."""
    freezer = SurvivorFreezer()
    gc.callbacks.append(freezer)
    return freezer
