"""A production install (the container) has no `local` extra: everything but `dev` must work."""

from __future__ import annotations

import subprocess
import sys

# Runs in a fresh interpreter where importing the local-stack packages fails, as in the container.
PROBE = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"moto", "aiosmtpd"}:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Absent())
import popd.cli, popd.server, functions.ingest.app, functions.api.app
for command in (["serve", "--help"], ["mailbox", "list", "--help"], ["deliver", "--help"]):
    try:
        popd.cli.main(command)
    except SystemExit as done:
        assert done.code == 0, (command, done.code)
print("ok")
"""


def test_serve_and_operator_commands_need_no_local_stack_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
