"""The popd task as template.yaml defines it (issue 11): a fresh environment built from
requirements-runtime.lock alone, as infra/Containerfile builds it, runs `popdrop serve` with
exactly the environment the task definition sets (read from the template, each reference
resolved as CloudFormation would for this test's resources), so the task definition, the
settings and the lock cannot drift apart."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme

from popdrop.auth.passwords import hash_password
from popdrop.store import Store
from tests.integration.template.conftest import TEMPLATE, CfnLoader
from tests.unit.core.test_proxy_protocol import v2

ROOT = Path(__file__).resolve().parents[3]
ADDRESS, PASSWORD = "alice@example.test", "a long enough password"
VPC_CIDR = "10.0.0.0/16"


def task_environment(values: dict[str, str], conditions: dict[str, bool]) -> dict[str, str]:
    import yaml  # type: ignore[import-untyped]

    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    [popd] = template["Resources"]["PopdTaskDefinition"]["Properties"]["ContainerDefinitions"]

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            return values[value["Ref"]]
        if "Fn::Sub" in value:
            text: str = value["Fn::Sub"]
            for name, replacement in values.items():
                text = text.replace("${" + name + "}", replacement)
            assert "${" not in text, text
            return text
        if "Fn::If" in value:
            condition, yes, no = value["Fn::If"]
            return resolve(yes if conditions[condition] else no)
        raise AssertionError(f"unresolved {value}")

    environment = {item["Name"]: resolve(item["Value"]) for item in popd["Environment"]}
    # The container's Secrets, which ECS reads from Secrets Manager and sets at start.
    secrets = boto3.client("secretsmanager")
    for item in popd.get("Secrets", []):
        value = secrets.get_secret_value(SecretId=resolve(item["ValueFrom"]))
        environment[item["Name"]] = value["SecretString"]
    return environment


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requirements-runtime.lock alone, then the project without dependencies: the image's
    /opt/popdrop (infra/Containerfile)."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    for step in (["-r", "requirements-runtime.lock"], ["--no-deps", "."]):
        result = subprocess.run(
            [*pip, *step], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
    return venv


def test_popdrop_serve_starts_from_the_runtime_lock_with_the_task_definitions_environment(
    runtime_venv: Path, store: Store, ca: trustme.CA
) -> None:
    store.create_mailbox(ADDRESS, hash_password(PASSWORD))
    issued = ca.issue_cert("pop.example.test")
    bundle = (
        "".join(b.bytes().decode() for b in issued.cert_chain_pems)
        + issued.private_key_pem.bytes().decode()
    )
    secret = boto3.client("secretsmanager").create_secret(Name="popd-tls", SecretString=bundle)
    values = {
        "AWS::Region": os.environ["AWS_DEFAULT_REGION"],
        "MailTable": store.table,
        "MailBucket": store.bucket,
        "IncomingPrefix": "incoming/",  # the parameter's default
        "CertificateSecretArn": secret["ARN"],
        "DecoyKeySecret": boto3.client("secretsmanager").create_secret(
            Name="popd-decoy-key", SecretString="d" * 48
        )["ARN"],
        "VpcCidr": VPC_CIDR,
    }
    task = task_environment(values, {"UseNlb": True})
    # What the test harness adds: moto in place of AWS, and credentials in place of the task
    # role's. Nothing of the developer's environment leaks in.
    harness = {
        name: os.environ[name]
        for name in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        )
    }
    env = {**task, **harness, "PATH": f"{runtime_venv / 'bin'}:/usr/bin:/bin"}
    bin_dir = runtime_venv / "bin"
    # Ports 110 and 995 as in the task, but free ones here: flags override the environment.
    process = subprocess.Popen(
        [
            str(bin_dir / "popdrop"),
            "serve",
            "--host",
            "127.0.0.1",
            "--pop3-port",
            "0",
            "--pop3s-port",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        listening: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while not listening:
            line = process.stderr.readline()
            assert line, f"popdrop serve exited: {process.wait(10)}"
            event = json.loads(line)
            assert event["level"] not in {"error", "critical"}, event
            assert event["event"] != "auth.decoy_key_random", "the task's decoy key was not set"
            if event["event"] == "popd.listening":
                listening = event
            assert time.monotonic() < deadline
        assert listening["proxy_protocol_from"] == [VPC_CIDR, "127.0.0.1/32"]
        # The container's dependencies run the daemon on uvloop (docs/performance.md).
        assert listening["event_loop"] == "uvloop"

        # The container's health check, from the same environment.
        check = subprocess.run(
            [str(bin_dir / "python"), "-m", "popd.healthcheck"],
            env={**env, "POPDROP_POP3_PORT": str(listening["pop3"])},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0, check.stderr

        # A client through the load balancer: PROXY v2, then implicit TLS with the secret's
        # certificate, then a login with the full address.
        context = ssl.create_default_context()
        ca.configure_trust(context)
        raw = socket.create_connection(("127.0.0.1", listening["pop3s"]), timeout=10)
        raw.sendall(v2("203.0.113.7"))
        with context.wrap_socket(raw, server_hostname="pop.example.test") as secure:
            replies = secure.makefile("rwb")
            assert replies.readline().startswith(b"+OK")
            replies.write(f"USER {ADDRESS}\r\nPASS {PASSWORD}\r\nQUIT\r\n".encode())
            replies.flush()
            assert [replies.readline()[:3] for _ in range(3)] == [b"+OK"] * 3

        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        process.kill()
        process.wait(10)
