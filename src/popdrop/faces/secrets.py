"""Reading a secret (Secrets Manager): the TLS certificate popd serves and the API's admin token.

Reads only: a secret is written by the operator (or by the stack that generated it). Each read
returns the version id with the value, so a poller can tell "changed" from "the same" without
comparing secret material.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SecretValue:
    """One version of a secret: its id (Secrets Manager's VersionId) and its text."""

    version: str
    text: str

    def __repr__(self) -> str:  # never the secret itself in a log line or a traceback
        return f"SecretValue(version={self.version!r})"


class SecretReader(Protocol):
    def current(self, secret_id: str) -> SecretValue:
        """The current version of the secret (an ARN or a name). Raises `StoreError` when it
        does not exist, is not readable, or holds binary rather than text."""
        ...
