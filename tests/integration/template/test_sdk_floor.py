"""The SDK the Lambda packages carry (issue 11): the lock's botocore, not the runtime's (which may
predate botocore 1.36 and its `response_checksum_validation`), and pyproject.toml's floor is true:
ingest's package, built with the oldest botocore it admits, files a message against moto. The
store builds its clients with botocore alone (issue 13), so ingest's package holds no boto3.

Builds with pip from the package index (its cache makes a second run quick)."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from popdrop.events import ses_event
from popdrop.store import Store
from tests.integration.infra.test_container import pins

ROOT = Path(__file__).resolve().parents[3]
SDK = ("boto3", "botocore")


def floors() -> dict[str, str]:
    """boto3's and botocore's lower bounds in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"(boto3|botocore)>=([\d.]+)", requirement)
        if match:
            found[match.group(1)] = match.group(2)
    assert set(found) == set(SDK), "pyproject.toml must state a floor for boto3 and botocore"
    return found


def build(artifacts: Path, **variables: str) -> None:
    command = ["make", "--no-print-directory", "build-IngestFunction", f"ARTIFACTS_DIR={artifacts}"]
    command += [f"LAMBDA_PYTHON={sys.executable}"]
    command += [f"{name}={value}" for name, value in variables.items()]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def packaged_version(artifacts: Path, name: str) -> str:
    [info] = artifacts.glob(f"{name}-*.dist-info")
    return info.name.removeprefix(f"{name}-").removesuffix(".dist-info")


def test_the_package_carries_the_locks_sdk_built_for_lambda(tmp_path: Path) -> None:
    """As `sam build` makes it: arm64 wheels for Python 3.12, botocore at the lock's version."""
    build(tmp_path)
    locked = pins(ROOT / "requirements.lock")
    assert packaged_version(tmp_path, "botocore") == locked["botocore"]
    assert not list(tmp_path.glob("boto3-*.dist-info")), "ingest imports no boto3"
    assert list(tmp_path.glob("pydantic_core/*aarch64*.so")), "not built for arm64"


# Runs the packaged handler alone: no site-packages, only the standard library and the package.
RUN_PACKAGED = """
import json, sys
sys.path.insert(0, sys.argv[1])
import botocore
from functions.ingest.app import handler
result = handler(json.loads(sys.argv[2]), None)
print(json.dumps({"botocore": botocore.__version__, **result}))
"""


def test_ingest_packaged_with_the_oldest_admitted_sdk_files_a_message(
    store: Store, tmp_path: Path
) -> None:
    floor = floors()
    constraints = tmp_path / "floor.lock"
    locked = (ROOT / "requirements.lock").read_text().splitlines()
    kept = [
        line for line in locked if not line.startswith(("boto3==", "botocore==", "s3transfer=="))
    ]
    constraints.write_text("\n".join([*kept, *(f"{n}=={v}" for n, v in floor.items())]) + "\n")
    package = tmp_path / "package"
    build(  # for this machine, so that its compiled wheels run here
        package,
        LAMBDA_PLATFORM=f"manylinux2014_{platform.machine()}",
        LAMBDA_PYTHON_VERSION=f"{sys.version_info.major}.{sys.version_info.minor}",
        LAMBDA_CONSTRAINTS=str(constraints),
    )
    store.create_mailbox("alice@example.test", "hash")
    store.put_incoming("msg-floor", b"Subject: hi\r\n\r\nhello\r\n")
    event = ses_event("msg-floor", ["alice@example.test"], timestamp_ms=1_709_294_400_250)
    env = {
        **os.environ,
        "POPDROP_TABLE": store.table,
        "POPDROP_BUCKET": store.bucket,
        "PYTHONNOUSERSITE": "1",
    }

    result = subprocess.run(
        [sys.executable, "-S", "-c", RUN_PACKAGED, str(package), json.dumps(event)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["botocore"] == floor["botocore"]
    assert summary["delivered"] == 1
    assert [entry.uid for entry in store.list_messages("alice@example.test")]
