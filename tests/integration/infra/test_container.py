"""The popd container definition: linted, and pinned consistently with the dev lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def pins(lock: Path) -> dict[str, str]:
    found = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith((" ", "#")):
            found[name.strip().lower()] = version.strip()
    return found


def test_containerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(ROOT / "infra" / "Containerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_lock_pins_the_same_versions_as_the_development_lock() -> None:
    runtime, development = (
        pins(ROOT / "requirements-runtime.lock"),
        pins(ROOT / "requirements.lock"),
    )
    assert runtime, "requirements-runtime.lock is empty"
    assert {name: development.get(name) for name in runtime} == runtime


def test_runtime_lock_has_no_local_stack_or_test_packages() -> None:
    assert not {"moto", "aiosmtpd", "pytest", "hypothesis"} & set(
        pins(ROOT / "requirements-runtime.lock")
    )


def test_no_lock_file_pins_a_local_path() -> None:
    """A `pkg @ file://...` line installs only on the machine that wrote the lock."""
    for lock in ("requirements.lock", "requirements-runtime.lock"):
        text = (ROOT / lock).read_text()
        assert "file://" not in text and " @ " not in text, lock
