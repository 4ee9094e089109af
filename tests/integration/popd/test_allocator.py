"""`popdrop serve` sets glibc's malloc so that password hashes in threads leave no memory behind
(popd/allocator.py; docs/performance.md, "Memory per idle session")."""

from __future__ import annotations

import os
import subprocess
import sys

# Four threads, one after another, each verifying two passwords (scrypt, 16 MiB of working set
# each), as the daemon's hashing threads do; prints what stayed resident, in KiB.
PROBE = """
import sys, threading
from popd.allocator import tune_malloc
from popdrop.auth.passwords import verify_against_dummy
if sys.argv[1] == "tuned":
    print(sorted(tune_malloc()), file=sys.stderr)
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
before = resident()
for _ in range(4):
    thread = threading.Thread(target=lambda: [verify_against_dummy("x") for _ in range(2)])
    thread.start()
    thread.join()
print((resident() - before) // 1024)
"""
MIB = 1024


def _kept(mode: str, **env: str) -> tuple[int, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**environment, **env},
    )
    return int(done.stdout), done.stderr.strip()


def test_hashes_in_threads_keep_no_working_set_once_tuned() -> None:
    untuned, _ = _kept("plain")
    tuned, applied = _kept("tuned")
    # The probe is sensitive: glibc's own dynamic threshold keeps at least one 16 MiB working set.
    assert untuned >= 16 * MIB, untuned
    assert tuned < 4 * MIB, tuned
    assert applied == "['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']"


def test_the_operators_malloc_environment_wins() -> None:
    kept, applied = _kept(
        "tuned",
        MALLOC_MMAP_THRESHOLD_=str(32 * MIB * 1024),
        MALLOC_TRIM_THRESHOLD_=str(64 * MIB * 1024),
    )
    assert applied == "['MALLOC_ARENA_MAX']"
    assert kept >= 16 * MIB, kept


# 200 blocks of 1 MiB (a RETR's chunk, then its dot-stuffed copy), each freed before the next, as a
# message streams; prints the page faults they cost.
CHUNKS = """
import resource, sys
from popd.allocator import tune_malloc
tune_malloc()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for number in range(200):
    chunk = bytes([number % 256]) * (1024 * 1024)
    stuffed = chunk.replace(b"\\n.", b"\\n..") + b"\\r\\n"
    del chunk, stuffed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
"""


def test_streaming_chunks_reuse_the_heap_rather_than_fault_in_fresh_mappings() -> None:
    """A threshold under the chunk size would map (and zero, and fault in) every chunk afresh:
    256 page faults per MiB streamed."""
    done = subprocess.run(
        [sys.executable, "-c", CHUNKS], capture_output=True, text=True, check=True, timeout=120
    )
    assert int(done.stdout) < 200 * 256 // 10, done.stdout
