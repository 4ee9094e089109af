"""Issue 13: mail in `popdrop dev` survives a restart, clean (SIGINT) or not (SIGKILL).

The stack runs as a real subprocess; mail goes in by SMTP and comes out by POP3 (poplib).
"""

from __future__ import annotations

import os
import poplib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.test_dev_stack import START_TIMEOUT, DevStack, parse_exports, send_mail
from tests.support import free_port


@contextmanager
def dev_stack(state: Path) -> Iterator[DevStack]:
    env_file = state / "env.sh"
    env_file.unlink(missing_ok=True)
    ports = {name: free_port() for name in ("pop3", "pop3s", "smtp", "api")}
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POPDROP_"))}
    command = [sys.executable, "-m", "popd.cli", "dev", "--state-dir", str(state)]
    for name, port in ports.items():
        command += [f"--{name}-port", str(port)]
    process = subprocess.Popen(
        [*command, "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not env_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"popdrop dev did not start:\n{process.communicate()[0]}")
            time.sleep(0.1)
        yield DevStack(parse_exports(env_file.read_text()), process=process, **ports)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def stop(stack: DevStack, how: signal.Signals) -> None:
    stack.process.send_signal(how)
    stack.process.wait(timeout=60)


def maildrop(stack: DevStack) -> list[bytes]:
    client = poplib.POP3("127.0.0.1", stack.pop3, timeout=10)
    client.user(stack.env["POPDROP_DEMO_ADDRESS"])
    client.pass_(stack.env["POPDROP_DEMO_PASSWORD"])
    count, _ = client.stat()
    messages = [b"\r\n".join(client.retr(n)[1]) for n in range(1, count + 1)]
    client.quit()
    return messages


def delete_all(stack: DevStack) -> None:
    client = poplib.POP3("127.0.0.1", stack.pop3, timeout=10)
    client.user(stack.env["POPDROP_DEMO_ADDRESS"])
    client.pass_(stack.env["POPDROP_DEMO_PASSWORD"])
    for number in range(1, client.stat()[0] + 1):
        client.dele(number)
    client.quit()


def test_mail_survives_a_killed_and_a_cleanly_stopped_dev_stack(tmp_path: Path) -> None:
    with dev_stack(tmp_path) as first:
        send_mail(first, "the first message\n")
        send_mail(first, "the second message\n")
        before = maildrop(first)
        assert len(before) == 2
        stop(first, signal.SIGKILL)  # no chance to save anything at stop
    assert (tmp_path / "aws" / "dynamodb.journal").stat().st_size > 0

    with dev_stack(tmp_path) as second:
        assert maildrop(second) == before
        send_mail(second, "the third message\n")
        assert len(maildrop(second)) == 3
        stop(second, signal.SIGINT)
        assert second.process.returncode == 0
    # A clean stop compacts the journal into the snapshot.
    assert (tmp_path / "aws" / "dynamodb.journal").stat().st_size == 0

    with dev_stack(tmp_path) as third:
        after = maildrop(third)
        assert after[:2] == before and len(after) == 3
        delete_all(third)
        stop(third, signal.SIGKILL)

    with dev_stack(tmp_path) as fourth:
        assert maildrop(fourth) == []  # deletions persist as well
        assert not [p for p in (tmp_path / "aws" / "s3").rglob("*") if p.is_file()]
        stop(fourth, signal.SIGINT)
