"""Issue 13, "a fast CLI": each `popdrop` command imports only what it uses, and `--version`.

The assertion is on what is imported (`python -X importtime` lists every module a run loaded),
never on time: docs/performance.md has the timings, measured by farm-bench.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest

from popdrop.store import Store

# What the API, the daemon, ingest, the local stack and TLS certificates pull in: about a second
# of imports that an operator command which only reads DynamoDB must not pay.
HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "mangum",
    "jwt",
    "cryptography",
    "scramp",
    "moto",
    "aiosmtpd",
    "popdrop.api",
    "popdrop.ingest",
    "popd.server",
    "popd.devstack",
    "popd.certificates",
)


def imported_modules(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules `popdrop ARGS` loaded (the `-m popd.cli` form runs the same `main`)."""
    return imported_by(["-m", "popd.cli", *args], env)


def imported_by(argv: list[str], env: dict[str, str] | None = None) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    }


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_version_prints_the_installed_version_and_imports_nothing_heavy() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "popd.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"popdrop {version('popdrop')}\n"
    modules = imported_modules("--version")
    assert heavy_among(modules) == []
    assert "boto3" not in modules and "pydantic" not in modules


def test_mailbox_list_help_parses_without_the_store_or_the_servers() -> None:
    modules = imported_modules("mailbox", "list", "--help")
    assert heavy_among(modules) == []
    assert "boto3" not in modules and "pydantic_settings" not in modules


def test_mailbox_list_imports_neither_the_api_the_daemon_nor_ingest(store: Store) -> None:
    store.create_mailbox("someone@example.test", "x")
    env = {**os.environ, "POPDROP_TABLE": store.table, "POPDROP_BUCKET": store.bucket}
    modules = imported_modules("mailbox", "list", env=env)
    assert "popd.admin" in modules  # it did run the command
    assert heavy_among(modules) == []


# The operator commands that only read DynamoDB, and the module that runs each.
READERS = [
    (("mailbox", "list"), "popd.admin"),
    (("mailbox", "policy", "someone@example.test"), "popd.ingest_admin"),
    (("alias", "list"), "popd.ingest_admin"),
    (("quarantine", "list", "someone@example.test"), "popd.ingest_admin"),
    (("folder", "list", "someone@example.test"), "popdrop.folder_admin"),
]


@pytest.mark.parametrize(("command", "runner"), READERS, ids=lambda c: " ".join(c[:3]))
def test_reading_commands_import_neither_pydantic_boto3_nor_ingest(
    store: Store, command: tuple[str, ...], runner: str
) -> None:
    """pydantic and pydantic-settings (the daemon's `Settings`) were a third of `mailbox list`'s
    start-up, boto3 (and the S3 transfer manager it imports) a seventh; the ingest pipeline is for
    delivering and reconciling. (`app-password list` imports SCRAM with the rest of
    `popdrop.admin.mailboxes`, which the API's package must import at start: left.)"""
    store.create_mailbox("someone@example.test", "x")
    env = {**os.environ, "POPDROP_TABLE": store.table, "POPDROP_BUCKET": store.bucket}
    modules = imported_modules(*command, env=env)
    assert {runner, "popdrop.storage_settings", "botocore.client"} <= modules  # it did run
    unwanted = {"pydantic", "pydantic_core", "pydantic_settings", "boto3", "s3transfer"}
    assert sorted(modules & unwanted) == []
    assert heavy_among(modules) == []


def test_main_leaves_the_collector_on(store: Store) -> None:
    """`main` keeps the cyclic collector off during start-up only: however the command ends (done,
    argparse's exit after --help, a bad setting refused), it is on again."""
    ends = [("--help", store.table, None), ("", store.table, 0), ("", "x", 2)]
    for flag, table, status in ends:
        argv = ["mailbox", "list", flag] if flag else ["mailbox", "list"]
        probe = (
            "import gc\nfrom popd.cli import main\n"
            f"try:\n    print(main({argv!r}))\nexcept SystemExit:\n    print(None)\n"
            "print(gc.isenabled())"
        )
        run = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            env={**os.environ, "POPDROP_TABLE": table, "POPDROP_BUCKET": store.bucket},
            timeout=60,
        )
        assert run.stdout.splitlines()[-2:] == [str(status), "True"], run.stderr


def test_the_import_check_sees_heavy_modules_where_they_are_imported() -> None:
    """The check is not vacuous: importing the API does show FastAPI."""
    assert "fastapi" in heavy_among(imported_by(["-c", "import popdrop.api.app"]))
