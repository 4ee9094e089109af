"""Issue 15: one error vocabulary and one exit-status scheme for the whole CLI (`popdrop --help`),
and a port already in use said in one line, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from popdrop.store import Store
from tests.integration.cli.test_cli import popdrop

GHOST = "ghost@example.test"
ALICE = "alice@example.test"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        yield holder.getsockname()[1]


def test_help_documents_the_exit_statuses() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "popd.cli", "--help"], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "exit status:" in shown
    for status in ("0    done", "1    failed:", "2    refused:", "130  interrupted"):
        assert status in shown


@pytest.mark.parametrize(
    "command",
    [
        ("mailbox", "remove", GHOST),
        ("mailbox", "passwd", GHOST, "--password-stdin"),
        ("mailbox", "apop-secret", GHOST, "--password-stdin"),
        ("mailbox", "policy", GHOST, "--spam", "drop"),
        ("mailbox", "app-password", "add", GHOST, "phone"),
        ("mailbox", "app-password", "list", GHOST),
        ("quarantine", "list", GHOST),
        ("alias", "add", "team@example.test", GHOST),
    ],
    ids=lambda command: " ".join(command[:3]),
)
def test_an_unknown_mailbox_is_one_message_and_one_status(
    store: Store, command: tuple[str, ...]
) -> None:
    """Before: `remove` printed only the address and exited 1, `policy` said "no such mailbox"
    and exited 2."""
    ran = popdrop(store, *command, stdin="secret\n")
    assert (ran.returncode, ran.stderr.decode()) == (2, f"popdrop: no such mailbox: {GHOST}\n")


def test_an_existing_mailbox_says_so(store: Store) -> None:
    assert popdrop(store, "mailbox", "add", ALICE, "--password-stdin", stdin="a\n").returncode == 0
    ran = popdrop(store, "mailbox", "add", ALICE, "--password-stdin", stdin="b\n")
    assert (ran.returncode, ran.stderr.decode()) == (
        2,
        f"popdrop: mailbox already exists: {ALICE}\n",
    )


def test_serve_on_a_port_in_use_is_one_line_and_status_1(store: Store, taken_port: int) -> None:
    env = {
        **os.environ,
        "POPDROP_TABLE": store.table,
        "POPDROP_BUCKET": store.bucket,
        "POPDROP_HOST": "127.0.0.1",
        "POPDROP_POP3_PORT": str(taken_port),
        "POPDROP_PLAINTEXT_AUTH": "loopback",
    }
    ran = subprocess.run(
        [sys.executable, "-m", "popd.cli", "serve"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 1
    errors = [line for line in ran.stderr.decode().splitlines() if not line.startswith("{")]
    assert errors == [f"popdrop: cannot listen on 127.0.0.1:{taken_port}: Address already in use"]


@pytest.mark.parametrize("service", ["--pop3-port", "--smtp-port", "--api-port"])
def test_dev_on_a_port_in_use_is_one_line_and_status_1(
    taken_port: int, service: str, tmp_path: os.PathLike[str]
) -> None:
    """Before: a traceback ending in an unrelated `RuntimeError: cannot join thread before it is
    started`."""
    ports = {"--pop3-port": "0", "--pop3s-port": "0", "--smtp-port": "0", "--api-port": "0"}
    ports[service] = str(taken_port)
    ran = subprocess.run(
        [sys.executable, "-m", "popd.cli", "dev", "--state-dir", str(tmp_path)]
        + [part for flag, port in ports.items() for part in (flag, port)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 1, ran.stderr
    errors = [line for line in ran.stderr.decode().splitlines() if not line.startswith("{")]
    assert errors == [f"popdrop: cannot listen on 127.0.0.1:{taken_port}: Address already in use"]


def test_a_broken_storage_setting_is_one_line_and_status_2(store: Store) -> None:
    """Operator commands read the storage names without pydantic (issue 13); a bad one is still
    refused, naming the variable and its rule, before anything is read or changed."""
    env = {**os.environ, "POPDROP_TABLE": "ab", "POPDROP_BUCKET": store.bucket}
    ran = subprocess.run(
        [sys.executable, "-m", "popd.cli", "mailbox", "list"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert (ran.returncode, ran.stderr.decode()) == (
        2,
        "popdrop: invalid configuration: "
        "POPDROP_TABLE must be 3 to 255 characters long, not 'ab'\n",
    )
