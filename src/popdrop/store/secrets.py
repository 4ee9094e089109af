"""Secrets Manager: the values popd and the API read at start and re-read when they change (the
TLS certificate and key, the API's admin token).

Reads only: a secret is written by the operator (or by the stack that generated it). Each read
returns the version id with the value, so a poller can tell "changed" from "the same" without
comparing secret material.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from popdrop.store.aws import aws_errors
from popdrop.store.errors import StoreError

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


@dataclass(frozen=True, slots=True)
class SecretValue:
    """One version of a secret: its id (Secrets Manager's VersionId) and its text."""

    version: str
    text: str

    def __repr__(self) -> str:  # never the secret itself in a log line or a traceback
        return f"SecretValue(version={self.version!r})"


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
        """The AWSCURRENT version of the secret (an ARN or a name). Raises `StoreError` when it
        does not exist, is not readable, or holds binary rather than text."""
        with aws_errors():
            response = self._client.get_secret_value(SecretId=secret_id)
        text = response.get("SecretString")
        if text is None:
            raise StoreError(f"secret {secret_id} holds no text (SecretString)")
        return SecretValue(version=response["VersionId"], text=text)
