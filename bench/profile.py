"""Profile `popdrop serve` under a scenario with py-spy or pyinstrument; print where time goes.

Starts moto and, per scenario, popd as bench/run.py does, attaches `py-spy record` (raw collapsed
stacks, native threads included) to popd's PID for the duration of the scenario, and prints the
functions with the most samples on top of the stack (self) and anywhere on it (inclusive). Writes
the raw stacks to --out, for flame graphs (e.g. speedscope or inferno).

    .venv/bin/python bench/profile.py sessions pipelined
    .venv/bin/python bench/profile.py --profiler pyinstrument pipelined retr_large

With `--profiler pyinstrument`, each scenario gets a popd started under pyinstrument instead, which
reports the event loop's thread as a call tree (`--top` x 4 lines of it are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import loadgen
from client import Account, Result, Target
from corpus import PASSWORD, Layout
from popdrop_instance import BIN, Storage, fill, moto_server, popdrop_serve

RATE = 250  # samples per second
# Leaf frames of threads that wait rather than run: the loop's epoll, idle executor workers,
# botocore waiting for moto's reply.
WAITING = ("EpollSelector.select", "_worker (concurrent/futures/thread.py:81)", "SocketIO.readinto")


def run_scenario(name: str, target: Target, layout: Layout, size: int) -> Result:
    accounts = [Account(user, PASSWORD) for user in layout.session_users]

    async def go() -> Result:
        for account in accounts:  # the credential cache, filled outside the profile
            await loadgen.one_session(target, account)
        if name == "sessions":
            return await loadgen.sessions(target, accounts, size, 120.0)
        if name == "pipelined":
            return await loadgen.pipelined(target, accounts[:2], size * 100, 16, 120.0)
        if name == "retr_large":  # window 1, each 5 MB message in turn, `size` // 10 RETRs
            return await loadgen.retrieve(
                target,
                Account(layout.large_user, PASSWORD),
                max(1, size // 10),
                1,
                120.0,
                name,
                layout.large_count,
            )
        return await loadgen.retrieve(
            target, Account(layout.small_user, PASSWORD), layout.small_count, 16, 120.0, name
        )

    return asyncio.run(go())


def summarize(raw: Path, top: int) -> str:
    """Collapsed stacks ("frame;frame;frame count") -> the top frames, self and inclusive."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(WAITING):  # a thread blocked, not running: no CPU
            waiting += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples running ({waiting} more waiting: epoll, idle workers, moto)"]
    for title, counter in (("self", own), ("inclusive", inclusive)):
        lines.append(f"-- top {top} by {title} samples")
        lines += [
            f"{count / total * 100:5.1f}%  {frame}" for frame, count in counter.most_common(top)
        ]
    return "\n".join(lines)


def with_py_spy(
    name: str, work: Path, storage: Storage, layout: Layout, args: argparse.Namespace
) -> str:
    """py-spy attached to a running popd: every thread, native frames included."""
    raw = args.out / f"profile-{name}.txt"
    with popdrop_serve(work, storage) as popdrop:
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(popdrop.process.pid),
                "--rate",
                str(RATE),
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attached before the load starts
        result = run_scenario(name, popdrop.target, layout, args.size)
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    return f"{result.line()}\n{summarize(raw, args.top)}"


def with_pyinstrument(
    name: str, work: Path, storage: Storage, layout: Layout, args: argparse.Namespace
) -> str:
    """popd started under pyinstrument: the event loop's thread, as a call tree with time spent
    (written when popd exits on SIGTERM); the start-up is in it too, under `main`."""
    report = args.out / f"pyinstrument-{name}.txt"
    prefix = [sys.executable, "-m", "pyinstrument", "--renderer", "text", "--outfile", str(report)]
    with popdrop_serve(work, storage, prefix=prefix) as popdrop:
        result = run_scenario(name, popdrop.target, layout, args.size)
    lines = report.read_text().splitlines()
    return "\n".join([result.line(), *lines[: args.top * 4], f"(all of it: {report})"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenarios", nargs="+", choices=["sessions", "pipelined", "retr", "retr_large"]
    )
    parser.add_argument("--size", type=int, default=400, help="sessions (x100: commands)")
    parser.add_argument("--profiler", choices=["py-spy", "pyinstrument"], default="py-spy")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    layout = Layout(small_count=200, large_count=4 if "retr_large" in args.scenarios else 0)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="popdrop-profile-") as directory:
        work = Path(directory)
        with moto_server(work) as storage:
            fill(storage.endpoint, layout)
            for name in args.scenarios:
                if args.profiler == "pyinstrument":
                    print(with_pyinstrument(name, work, storage, layout, args))
                else:
                    print(with_py_spy(name, work, storage, layout, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
