"""Issue 2's "done": `popdrop dev` on a fresh state dir; smtplib in, poplib and curl out, DELE+QUIT.

The stack runs as a real subprocess, exactly as `make dev` starts it.
"""

from __future__ import annotations

import os
import poplib
import shlex
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.support import curl_retr, free_port

START_TIMEOUT = 90.0


@dataclass(frozen=True)
class DevStack:
    env: dict[str, str]
    pop3: int
    pop3s: int
    smtp: int
    api: int
    process: subprocess.Popen[str]


def parse_exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env


@contextmanager
def running_dev_stack(state: Path) -> Iterator[DevStack]:
    """`popdrop dev` on fresh ports and `state`, until it has written its exports; stopped with
    SIGINT afterwards unless the test stopped it."""
    env_file = state / "env.sh"
    ports = {name: free_port() for name in ("pop3", "pop3s", "smtp", "api")}
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POPDROP_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "popd.cli",
            "dev",
            "--pop3-port",
            str(ports["pop3"]),
            "--pop3s-port",
            str(ports["pop3s"]),
            "--smtp-port",
            str(ports["smtp"]),
            "--api-port",
            str(ports["api"]),
            "--state-dir",
            str(state),
            "--env-file",
            str(env_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while not env_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"popdrop dev did not start:\n{output}")
        time.sleep(0.1)
    stack = DevStack(parse_exports(env_file.read_text()), process=process, **ports)
    yield stack
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with running_dev_stack(tmp_path_factory.mktemp("dev-state")) as stack:
        yield stack


def send_mail(stack: DevStack, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "sender@example.org"
    message["To"] = stack.env["POPDROP_DEMO_ADDRESS"]
    message["Subject"] = "walking skeleton"
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", stack.smtp, timeout=10) as smtp:
        smtp.send_message(message)
    return bytes(message)


def stored_object(stack: DevStack, number: int) -> bytes:
    """The message as stored, through the REST API (the admin token comes from the exports)."""
    headers = {"Authorization": f"Bearer {stack.env['POPDROP_API_TOKEN']}"}
    base = f"http://127.0.0.1:{stack.api}/v1/mailboxes/{stack.env['POPDROP_DEMO_ADDRESS']}"
    listing = httpx.get(f"{base}/messages", headers=headers, timeout=10)
    listing.raise_for_status()
    oldest_first = list(reversed(listing.json()["data"]))  # the API lists newest first
    uid = oldest_first[number - 1]["uid"]
    raw = httpx.get(f"{base}/messages/{uid}/raw", headers=headers, timeout=10)
    raw.raise_for_status()
    return raw.content


def test_exports_name_the_stack(dev_stack: DevStack) -> None:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "POPDROP_TABLE",
        "POPDROP_BUCKET",
        "POPDROP_INCOMING_PREFIX",
        "POPDROP_TLS_CERT",
        "POPDROP_TLS_KEY",
        "POPDROP_DEMO_ADDRESS",
        "POPDROP_DEMO_PASSWORD",
    ):
        assert dev_stack.env.get(name), name
    assert Path(dev_stack.env["POPDROP_TLS_CERT"]).is_file()


def test_smtp_in_poplib_and_curl_out_byte_exact_then_dele_quit(dev_stack: DevStack) -> None:
    sent = send_mail(dev_stack, ".a line that starts with a dot\nand another\n")
    address, password = (
        dev_stack.env["POPDROP_DEMO_ADDRESS"],
        dev_stack.env["POPDROP_DEMO_PASSWORD"],
    )
    stored = stored_object(dev_stack, 1)
    # SES prepends its trace headers; the rest is what the sender sent, with CRLF line ends.
    assert stored.endswith(sent.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert stored.startswith(b"Return-Path: <")

    client = poplib.POP3("127.0.0.1", dev_stack.pop3, timeout=10)
    client.user(address)
    client.pass_(password)
    count, size = client.stat()
    assert (count, size) == (1, len(stored))
    _, lines, _ = client.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == stored
    client.quit()

    assert curl_retr(dev_stack.pop3, address, password, 1) == stored

    client = poplib.POP3("127.0.0.1", dev_stack.pop3, timeout=10)
    client.user(address)
    client.pass_(password)
    client.dele(1)
    client.quit()
    client = poplib.POP3("127.0.0.1", dev_stack.pop3, timeout=10)
    client.user(address)
    client.pass_(password)
    assert client.stat() == (0, 0)
    client.quit()


def test_other_popdrop_commands_reach_the_stack_through_the_exports(dev_stack: DevStack) -> None:
    env = {**os.environ, **dev_stack.env}
    listing = subprocess.run(
        [sys.executable, "-m", "popd.cli", "mailbox", "list"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert dev_stack.env["POPDROP_DEMO_ADDRESS"] in listing.stdout


def test_the_dev_stack_serves_the_console_and_the_api_docs(dev_stack: DevStack) -> None:
    for page, marker in (("/", "popdrop console"), ("/docs", "Swagger UI")):
        response = httpx.get(f"http://127.0.0.1:{dev_stack.api}{page}", timeout=10)
        assert response.status_code == 200 and marker in response.text, page


def test_sigint_returns_to_the_prompt_cleanly(tmp_path: Path) -> None:
    """Its own stack: stopping the module's would fail every test that runs after it (issue 15:
    this test passed only because it ran last)."""
    with running_dev_stack(tmp_path) as stack:
        stack.process.send_signal(signal.SIGINT)
        assert stack.process.wait(timeout=30) == 0
        output = stack.process.stdout.read() if stack.process.stdout else ""
        assert "popdrop dev: stopping" in output and "Traceback" not in output
