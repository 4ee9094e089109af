"""Freed message buffers go back to the operating system (glibc's malloc).

glibc serves a large allocation with its own mmap and unmaps it when freed, but after the first
such free it raises that threshold to the freed size (up to 32 MiB), so every later chunk-sized
buffer comes from the heap arenas of the thread pool's threads, and the arenas keep what they
hold: a daemon that streamed to a few stalled clients grew by hundreds of MB and never shrank.
Fixing the threshold turns the dynamic adjustment off. The cost is one mmap and munmap per
streamed chunk (docs/engine.md, "Memory per session").
"""

from __future__ import annotations

import ctypes
from typing import Final

M_MMAP_THRESHOLD: Final = -3  # glibc's malloc.h


def return_large_buffers(threshold: int) -> bool:
    """Serve allocations of `threshold` octets and more by mmap, and give them back when freed.

    False where the C library has no `mallopt` (musl, macOS): its allocator decides.
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and bool(mallopt(M_MMAP_THRESHOLD, threshold))
