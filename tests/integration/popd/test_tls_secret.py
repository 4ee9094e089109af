"""popd's certificate from a Secrets Manager secret (issue 11): read at start through the store's
AWS configuration, polled for a new version (ECS cannot send SIGHUP), and a bad one never
replaces a good one."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme

from popd import event_loop
from popd.certificates import CertificateError, credentials_from_pem
from popd.server import Pop3Daemon
from popdrop.settings import PlaintextAuth, Settings
from popdrop.store import Store
from popdrop.store.secrets import Secrets
from tests.support import running_daemon


def bundle(ca: trustme.CA, *, key_first: bool = False) -> tuple[str, bytes]:
    """A `cat fullchain.pem privkey.pem` bundle for localhost, and its leaf in DER."""
    issued = ca.issue_cert("localhost", "127.0.0.1")
    chain = "".join(blob.bytes().decode() for blob in issued.cert_chain_pems)
    key = issued.private_key_pem.bytes().decode()
    leaf = ssl.PEM_cert_to_DER_cert(issued.cert_chain_pems[0].bytes().decode())
    return (key + chain if key_first else chain + key), leaf


def presented(port: int, ca: trustme.CA) -> bytes:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as secure,
    ):
        assert secure.makefile("rb").readline().startswith(b"+OK")
        certificate = secure.getpeercert(binary_form=True)
        assert certificate is not None
        return certificate


ENCRYPTED_KEY = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"


def settings_for(secret: str, **overrides: Any) -> Settings:
    return Settings(
        host="127.0.0.1",
        pop3_port=0,
        pop3s_port=0,
        tls_secret=secret,
        plaintext_auth=PlaintextAuth.LOOPBACK,
        **overrides,
    )


def wait_for(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_the_certificate_is_read_from_the_secret_and_a_new_version_is_picked_up(
    store: Store, ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = boto3.client("secretsmanager")
    text, first = bundle(ca)
    arn = secrets.create_secret(Name="popd-tls", SecretString=text)["ARN"]
    settings = settings_for(arn, tls_secret_poll_seconds=1)
    with caplog.at_level(logging.INFO), running_daemon(settings, store) as endpoints:
        assert endpoints.pop3s_port is not None
        assert presented(endpoints.pop3s_port, ca) == first

        text, second = bundle(ca, key_first=True)  # any order of key and chain
        secrets.put_secret_value(SecretId=arn, SecretString=text)
        wait_for(lambda: presented(endpoints.pop3s_port, ca) == second, "rotation not picked up")

        secrets.put_secret_value(SecretId=arn, SecretString="not a certificate")
        wait_for(
            lambda: any(r.getMessage() == "tls.reload_failed" for r in caplog.records),
            "the bad version was not noticed",
        )
        assert presented(endpoints.pop3s_port, ca) == second  # the good pair stays
    loaded = [r for r in caplog.records if r.getMessage() == "tls.loaded"]
    assert len(loaded) == 2  # the unchanged versions between polls are not loaded again
    assert "PRIVATE KEY" not in caplog.text


def test_a_secret_that_cannot_be_used_stops_the_start_with_a_clear_error(
    store: Store, moto: str
) -> None:
    boto3.client("secretsmanager").create_secret(Name="bad", SecretString="hello")
    for secret, reason in (("bad", "exactly one private key"), ("absent", "ResourceNotFound")):
        daemon = Pop3Daemon(settings_for(secret), store, secrets=Secrets.from_environment)
        with pytest.raises(CertificateError, match=f"TLS certificate from {secret}: .*{reason}"):
            event_loop.run(daemon.start())


def test_files_and_a_secret_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        Settings(tls_secret="x", tls_cert=Path("c.pem"), tls_key=Path("k.pem"))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda chain, key: chain, "0 key"),
        (lambda chain, key: key, "0 certificate"),
        (lambda chain, key: chain + key + key, "2 key"),
        (lambda chain, key: chain + ENCRYPTED_KEY, "encrypted"),
    ],
    ids=["no-key", "no-certificate", "two-keys", "encrypted-key"],
)
def test_a_bundle_needs_certificates_and_exactly_one_clear_key(
    ca: trustme.CA, damage: Any, reason: str
) -> None:
    issued = ca.issue_cert("localhost")
    chain = "".join(blob.bytes().decode() for blob in issued.cert_chain_pems)
    key = issued.private_key_pem.bytes().decode()
    with pytest.raises(CertificateError, match=reason):
        credentials_from_pem(damage(chain, key), version="v")


def test_a_key_that_does_not_match_the_certificate_is_refused(ca: trustme.CA) -> None:
    one, other = ca.issue_cert("localhost"), ca.issue_cert("localhost")
    chain = "".join(blob.bytes().decode() for blob in one.cert_chain_pems)
    with pytest.raises(ssl.SSLError):
        credentials_from_pem(chain + other.private_key_pem.bytes().decode(), version="v")
