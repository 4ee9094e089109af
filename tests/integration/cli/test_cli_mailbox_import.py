"""Issue 13: `popdrop mailbox import FILE` — bulk creation that is idempotent and resumable, reports
bad lines by number (never their passwords) and draws a progress bar only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from popdrop.auth.passwords import hash_password, verify_password
from popdrop.store import Store
from tests.integration.cli.test_cli import popdrop


def env_for(store: Store) -> dict[str, str]:
    return {**os.environ, "POPDROP_TABLE": store.table, "POPDROP_BUCKET": store.bucket}


def test_csv_creates_each_mailbox_and_reports_bad_lines_by_number(
    store: Store, tmp_path: Path
) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "address,password\n"
        "Ann@Example.Test,first secret\n"
        "not an address,leaked-if-echoed\n"
        "\n"
        'bob@example.test,"a, quoted"\n'
        "ann@example.test,second secret\n"
        "carl@example.test\n"
    )
    run = popdrop(store, "mailbox", "import", str(source))
    assert run.returncode == 1  # some lines need fixing
    errors = run.stderr.decode()
    assert f"{source}:3: " in errors
    assert f"{source}:6: ann@example.test is already on line 2" in errors
    assert f"{source}:7: " in errors
    assert "leaked-if-echoed" not in errors and "second secret" not in errors
    assert b"created 2, skipped 0 that already existed, 3 bad lines" in run.stdout
    ann = store.get_mailbox("ann@example.test")
    assert ann is not None and verify_password("first secret", ann.password_hash)
    assert ann.scram is not None  # a password gives SCRAM-SHA-256 its verifier too
    bob = store.get_mailbox("bob@example.test")
    assert bob is not None and verify_password("a, quoted", bob.password_hash)


def test_json_lines_take_a_password_hash_as_it_is(store: Store, tmp_path: Path) -> None:
    digest = hash_password("moved in")
    source = tmp_path / "users.jsonl"
    source.write_text(
        json.dumps({"address": "dee@example.test", "password_hash": digest})
        + "\n"
        + json.dumps({"address": "eve@example.test", "password_hash": "$plain$nope"})
        + "\n{broken\n"
        + json.dumps({"address": "fay@example.test", "password": "p", "shell": "/bin/sh"})
        + "\n"
    )
    run = popdrop(store, "mailbox", "import", str(source))
    assert run.returncode == 1
    errors = run.stderr.decode()
    for line in (2, 3, 4):
        assert f"{source}:{line}: " in errors
    dee = store.get_mailbox("dee@example.test")
    assert dee is not None and dee.password_hash == digest and dee.scram is None
    assert store.get_mailbox("eve@example.test") is None
    assert store.get_mailbox("fay@example.test") is None


def test_running_it_again_creates_nothing_twice_and_changes_no_password(
    store: Store, tmp_path: Path
) -> None:
    source = tmp_path / "users.csv"
    source.write_text("address,password\ngus@example.test,one\nhal@example.test,two\n")
    assert popdrop(store, "mailbox", "import", str(source)).returncode == 0
    source.write_text("address,password\ngus@example.test,changed\nhal@example.test,two\n")
    again = popdrop(store, "mailbox", "import", str(source))
    assert again.returncode == 0, again.stderr
    assert b"created 0, skipped 2 that already existed, 0 bad lines" in again.stdout
    gus = store.get_mailbox("gus@example.test")
    assert gus is not None and verify_password("one", gus.password_hash)


def test_an_interrupted_import_resumes_where_it_stopped(store: Store, tmp_path: Path) -> None:
    addresses = [f"user{n}@example.test" for n in range(40)]
    source = tmp_path / "users.csv"
    source.write_text("address,password\n" + "".join(f"{a},pw{a}\n" for a in addresses))
    process = subprocess.Popen(
        [sys.executable, "-m", "popd.cli", "mailbox", "import", str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(store),
    )
    deadline = time.monotonic() + 60
    while not store.list_mailboxes():
        assert process.poll() is None and time.monotonic() < deadline, "nothing was imported"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    done = len(store.list_mailboxes())
    if process.returncode == 130:  # stopped part-way (it may also have finished first)
        assert b"interrupted after line" in stderr and b"run it again" in stderr
    resumed = popdrop(store, "mailbox", "import", str(source))
    assert resumed.returncode == 0, resumed.stderr
    expected = f"created {len(addresses) - done}, skipped {done} that already existed"
    assert expected.encode() in resumed.stdout
    assert sorted(box.address for box in store.list_mailboxes()) == sorted(addresses)


def test_a_progress_bar_is_drawn_on_a_terminal_only(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text("address,password\nivy@example.test,x\njoe@example.test,y\n")
    plain = popdrop(store, "mailbox", "import", str(source))
    assert b"[" not in plain.stderr and b"\r" not in plain.stderr

    store.remove_mailbox("ivy@example.test")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "popd.cli", "mailbox", "import", str(source)],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env=env_for(store),
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal's last writer has exited
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    assert b"] 3/3 lines  created 1  skipped 1  bad 0" in drawn


def test_a_bad_header_or_an_unknown_format_changes_nothing(store: Store, tmp_path: Path) -> None:
    header = tmp_path / "users.csv"
    header.write_text("email,password\nkim@example.test,x\n")
    run = popdrop(store, "mailbox", "import", str(header))
    assert run.returncode == 2 and b"header" in run.stderr
    unknown = tmp_path / "users.txt"
    unknown.write_text("address,password\nkim@example.test,x\n")
    run = popdrop(store, "mailbox", "import", str(unknown))
    assert run.returncode == 2 and b"--format" in run.stderr
    assert store.list_mailboxes() == []
    forced = popdrop(store, "mailbox", "import", "--format", "csv", str(unknown))
    assert forced.returncode == 0, forced.stderr
    assert store.get_mailbox("kim@example.test") is not None
