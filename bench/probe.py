"""The server side of a measurement: CPU and memory of a process tree, read from /proc.

A server is its process and every process below it: Dovecot's master with its login, pop3, auth
and anvil children; popd alone (it forks nothing). CPU is utime + stime of each (clock ticks of
10 ms), plus the CPU of the children the root has already reaped (cutime + cstime), so Dovecot's
short-lived login processes are not lost. Memory is PSS (/proc/PID/smaps_rollup), summed over the
same processes: pages shared between them (Dovecot's children share the master's libraries) count
once in all, split among those who share them.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from field 3 (state) on; the command name (field 2) may contain spaces."""
    with open(f"/proc/{pid}/stat") as handle:
        text = handle.read()
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from the parent ids in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                children.setdefault(int(stat_fields(int(name))[1]), []).append(int(name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def pss_kib(pid: int) -> int:
    """One process's proportional set size in KiB (0 once it has gone)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


@dataclass(frozen=True, slots=True)
class ServerProbe:
    """A server's processes: `pid` alone, or with `tree` the whole tree below it."""

    pid: int
    tree: bool = False

    def pids(self) -> list[int]:
        return descendants(self.pid) if self.tree else [self.pid]

    def cpu_seconds(self) -> float:
        ticks = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = stat_fields(pid)
                # utime, stime, cutime, cstime are fields 14-17 (indexes 11-14 from field 3).
                ticks += int(fields[11]) + int(fields[12])
                if self.tree and pid == self.pid:
                    ticks += int(fields[13]) + int(fields[14])
        return ticks / CLK_TCK

    def pss_kib(self) -> int:
        return sum(pss_kib(pid) for pid in self.pids())

    def processes(self) -> int:
        return len(self.pids())
