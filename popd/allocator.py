"""glibc's malloc set up for a daemon that holds many idle sessions and hashes in threads.

glibc raises its mmap threshold to the size of the largest mmapped block freed so far (up to
32 MiB, and the trim threshold to twice that). One scrypt hash (16 MiB of working set,
`popdrop.auth.passwords`) is such a block: after the first, every later hash is carved from the
arena of the thread that runs it and stays there, free but resident, one per arena (glibc makes up
to eight per core for the storage threads). Measured with 2,000 idle sessions held, that was most
of the memory per session (docs/performance.md, "Memory per idle session").

So `popdrop serve` fixes the thresholds, which also stops their dynamic adjustment: blocks from
4 MiB up (a hash's working set) get mappings of their own, returned to the kernel when freed,
while the chunks of a RETR (at most 1 MiB, and their dot-stuffed copies) are reused from the heap;
a threshold as low as glibc's starting 128 KiB would map and fault in every chunk afresh (about
1 s of CPU per GB streamed). The arenas are bounded too. An operator's own
`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` or `MALLOC_ARENA_MAX` (glibc's environment
tunables) wins over the setting here. On another C library (musl) nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

# mallopt(3) parameters (glibc's malloc.h).
M_TRIM_THRESHOLD: Final = -1
M_MMAP_THRESHOLD: Final = -3
M_ARENA_MAX: Final = -8

MMAP_THRESHOLD: Final = 4 * 1024 * 1024
TRIM_THRESHOLD: Final = 2 * MMAP_THRESHOLD  # as glibc's own adjustment would set it
ARENA_MAX: Final = 2

# Each setting and the environment variable that overrides it.
SETTINGS: Final = (
    (M_MMAP_THRESHOLD, MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
    (M_TRIM_THRESHOLD, TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"),
    (M_ARENA_MAX, ARENA_MAX, "MALLOC_ARENA_MAX"),
)


def tune_malloc() -> dict[str, int]:
    """Apply the settings above (call before threads start); the ones applied, by variable."""
    if not _glibc():
        return {}
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = {}
    for parameter, value, variable in SETTINGS:
        if variable not in os.environ and mallopt(parameter, value) == 1:
            applied[variable] = value
    return applied


def _glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):  # a C library that does not name itself glibc
        return False
