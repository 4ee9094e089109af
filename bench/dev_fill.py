"""Fill `popdrop dev` with mail and say whether it slows down or grows (issue 13).

Starts `popdrop dev` (moto, the SMTP stand-in for SES, ingest, POP3) on free loopback ports with a
fresh state dir, sends --messages messages to its demo mailbox over --connections SMTP
connections, and prints for each tenth of the fill its rate and the stack's resident memory. The
verdict lines compare the last tenth's time with the first's (target: at most 1.5x) and the peak
resident size with 2 GiB. Then it stops the stack (the journal is compacted), starts it again on
the same state dir, checks with POP3 STAT that every message is still there, and prints the
resident size of the restarted stack, which holds the data without the garbage of the fill.

    .venv/bin/python bench/dev_fill.py --messages 100000
"""

from __future__ import annotations

import argparse
import os
import poplib
import shlex
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 120.0
TARGET_SLOWDOWN = 1.5
TARGET_RESIDENT = 2 * 1024**3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def memory(pid: int) -> tuple[int, int]:
    """(resident now, peak resident) in bytes, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


@contextmanager
def dev_stack(state: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str], int, int]]:
    env_file = state / "env.sh"
    env_file.unlink(missing_ok=True)
    smtp, pop3 = free_port(), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POPDROP_"))}
    ports = ["--smtp-port", str(smtp), "--pop3-port", str(pop3)]
    ports += ["--pop3s-port", str(free_port()), "--api-port", str(free_port())]
    ports += ["--state-dir", str(state), "--env-file", str(env_file)]
    process = subprocess.Popen(
        [sys.executable, "-m", "popd.cli", "dev", *ports],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not env_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("popdrop dev did not start")
            time.sleep(0.1)
        env = {}
        for line in env_file.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0]
        yield process, env, smtp, pop3
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=600)


def message(number: int, size: int) -> bytes:
    head = (
        f"From: bench@example.org\r\nTo: demo@popdrop.test\r\nSubject: fill {number}\r\n"
        f"Message-ID: <fill-{number}@example.org>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def send(port: int, to: str, numbers: range, size: int, errors: list[BaseException]) -> None:
    try:
        with smtplib.SMTP(LOOPBACK, port, timeout=120) as client:
            for number in numbers:
                client.sendmail("bench@example.org", [to], message(number, size))
    except BaseException as error:  # reported by the main thread
        errors.append(error)


def fill(port: int, to: str, start: int, count: int, connections: int, size: int) -> None:
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=send,
            args=(port, to, range(start + i, start + count, connections), size, errors),
            daemon=True,  # Ctrl-C stops the fill, and the stack, without waiting for them
        )
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"sending failed: {errors[0]!r}")


def stat(port: int, env: dict[str, str], attempts: int = 3) -> int:
    """POP3 STAT of the demo mailbox; a [SYS/TEMP] answer (RFC 3206: try again later, as when
    loading a large listing from moto outlasts the store's timeouts on a loaded machine) is
    retried."""
    for attempt in range(1, attempts + 1):
        client = poplib.POP3(LOOPBACK, port, timeout=600)
        try:
            client.user(env["POPDROP_DEMO_ADDRESS"])
            client.pass_(env["POPDROP_DEMO_PASSWORD"])
            count = int(client.stat()[0])
            client.quit()
            return count
        except poplib.error_proto as error:
            client.close()
            if b"[SYS/TEMP]" not in error.args[0] or attempt == attempts:
                raise
            print(f"login answered {error.args[0]!r}; trying again")
            time.sleep(10)
    raise AssertionError("unreachable")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4, help="parallel SMTP connections")
    parser.add_argument("--size", type=int, default=2048, help="octets per message")
    args = parser.parse_args()
    tenth = max(1, args.messages // 10)
    with tempfile.TemporaryDirectory(prefix="popdrop-fill-") as directory:
        state = Path(directory)
        with dev_stack(state) as (process, env, smtp, pop3):
            print(f"filling popdrop dev with {args.messages} messages of {args.size} octets")
            print("tenth  messages  seconds  msg/s   resident MiB")
            times = []
            for index, start in enumerate(range(0, args.messages, tenth)):
                count = min(tenth, args.messages - start)
                began = time.monotonic()
                fill(smtp, env["POPDROP_DEMO_ADDRESS"], start, count, args.connections, args.size)
                times.append(time.monotonic() - began)
                resident, _ = memory(process.pid)
                print(
                    f"{index + 1:>5}  {start + count:>8}  {times[-1]:>7.1f}  "
                    f"{count / times[-1]:>5.0f}  {resident / 2**20:>12.0f}"
                )
            _, peak = memory(process.pid)
            stored = stat(pop3, env)
            began = time.monotonic()
            process.send_signal(signal.SIGINT)
            process.wait(timeout=600)
            stopped = time.monotonic() - began
        slowdown = times[-1] / times[0]
        print(f"last tenth / first tenth: {slowdown:.2f}x (target <= {TARGET_SLOWDOWN}x)")
        print(f"peak resident: {peak / 2**20:.0f} MiB (target < {TARGET_RESIDENT / 2**20:.0f} MiB)")
        print(f"stop (journal compacted): {stopped:.1f} s")
        began = time.monotonic()
        with dev_stack(state) as (process, env, _, pop3):
            restarted = time.monotonic() - began
            kept = stat(pop3, env)
            reloaded, _ = memory(process.pid)
        print(f"restart: {restarted:.1f} s; messages before {stored}, after {kept}")
        print(f"resident after the restart (the data alone): {reloaded / 2**20:.0f} MiB")
        ok = stored == kept == args.messages
        print("kept every message across the restart" if ok else "MESSAGES WERE LOST")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
