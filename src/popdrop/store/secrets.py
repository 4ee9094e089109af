"""Secrets Manager: `popdrop.faces.secrets.SecretReader` (the TLS certificate and key, the API's
admin token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from popdrop.faces.faults import StoreError
from popdrop.faces.secrets import SecretValue
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# A secret is read at start and then every few minutes: no connection pool to speak of, and the
# same bounded retries and timeouts as the store's other clients, so a start-up read fails with
# a clear error within seconds rather than hanging.
_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5.0,
    read_timeout=10.0,
)


class Secrets:
    def __init__(self, client: SecretsManagerClient) -> None:
        self._client = client

    @classmethod
    def from_environment(cls) -> Secrets:
        """A client configured the standard AWS way (region, credentials, AWS_ENDPOINT_URL), like
        `Store.from_settings`."""
        with aws_errors():
            return cls(boto3.session.Session().client("secretsmanager", config=_CONFIG))

    def current(self, secret_id: str) -> SecretValue:
        """The AWSCURRENT version."""
        with aws_errors():
            response = self._client.get_secret_value(SecretId=secret_id)
        text = response.get("SecretString")
        if text is None:
            raise StoreError(f"secret {secret_id} holds no text (SecretString)")
        return SecretValue(version=response["VersionId"], text=text)
