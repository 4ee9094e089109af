"""The store's Secrets Manager reads (popd's certificate, the API's token), against moto."""

from __future__ import annotations

import boto3
import pytest

from popdrop.faces.faults import StoreError
from popdrop.store.secrets import Secrets


@pytest.fixture
def client(moto: str) -> object:
    return boto3.client("secretsmanager")


def test_the_current_version_and_its_text_are_read(client: object) -> None:
    created = client.create_secret(Name="popd-tls", SecretString="first")  # type: ignore[attr-defined]
    secrets = Secrets.from_environment()
    first = secrets.current("popd-tls")
    assert (first.version, first.text) == (created["VersionId"], "first")
    assert secrets.current(created["ARN"]) == first  # by ARN, as the template passes it

    client.put_secret_value(SecretId="popd-tls", SecretString="second")  # type: ignore[attr-defined]
    second = secrets.current("popd-tls")
    assert second.text == "second" and second.version != first.version


def test_the_value_never_shows_in_its_repr(client: object) -> None:
    client.create_secret(Name="token", SecretString="s3cr3t-value")  # type: ignore[attr-defined]
    assert "s3cr3t-value" not in repr(Secrets.from_environment().current("token"))


def test_a_missing_or_binary_secret_is_a_store_error(client: object) -> None:
    client.create_secret(Name="binary", SecretBinary=b"\x00\x01")  # type: ignore[attr-defined]
    secrets = Secrets.from_environment()
    with pytest.raises(StoreError, match="ResourceNotFound"):
        secrets.current("absent")
    with pytest.raises(StoreError, match="holds no text"):
        secrets.current("binary")
