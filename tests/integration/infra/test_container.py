"""The popd container definition: linted, and pinned consistently with the dev lock."""

from __future__ import annotations

import re
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


def stages(text: str) -> list[str]:
    """The Containerfile's stages, each from its FROM line on."""
    parts = re.split(r"^(?=FROM )", text, flags=re.MULTILINE)
    return [part for part in parts if part.startswith("FROM ")]


def test_the_base_image_is_pinned_by_digest() -> None:
    text = (ROOT / "infra" / "Containerfile").read_text()
    [argument] = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"python:3\.12-slim-bookworm@sha256:[0-9a-f]{64}", argument)
    assert [stage.splitlines()[0].split()[1] for stage in stages(text)] == ["${PYTHON_IMAGE}"] * 2


def test_the_runtime_image_has_a_health_check_and_no_installer() -> None:
    build, runtime = stages((ROOT / "infra" / "Containerfile").read_text())
    assert "venv --without-pip" in build
    healthcheck = (
        "HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \\\n"
        '    CMD ["python", "-m", "popd.healthcheck"]'
    )
    assert healthcheck in runtime
    assert "pip uninstall --yes --no-cache-dir pip setuptools wheel" in runtime
    assert "pip install" not in runtime and "apt-get" not in runtime
