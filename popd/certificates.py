"""Where popd's TLS certificate comes from: PEM files (`POPDROP_TLS_CERT`/`POPDROP_TLS_KEY`,
re-read on SIGHUP) or a Secrets Manager secret (`POPDROP_TLS_SECRET`, polled for a new version:
ECS cannot send a running task SIGHUP, and a Fargate task has no shell to copy files into).

A source's `load` returns the new credentials, or None when the version it would load is the one
already loaded, so a poll that finds nothing new costs one read and no TLS work.
"""

from __future__ import annotations

import re
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from popd.tls import leaf_certificate, server_context
from popdrop.faces.secrets import SecretReader
from popdrop.settings import Settings

# RFC 7468 §2 textual encoding: one block per label; a bundle holds the chain and one key.
_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----\r?\n.*?-----END (?P=label)-----", re.DOTALL
)
_KEY_LABELS = frozenset({"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"})


class CertificateError(ValueError):
    """The certificate material is unusable: missing, malformed, or key and certificate differ."""


@dataclass(frozen=True, slots=True)
class TlsCredentials:
    context: ssl.SSLContext  # the server context new connections and STLS use
    leaf: str  # the presented certificate in PEM: SCRAM-PLUS's tls-server-end-point binding
    version: str  # what was loaded: a file path, or the secret's version id


class CertificateSource(Protocol):
    name: str  # for log lines: the file or the secret, never its content

    def load(self, loaded: str | None) -> TlsCredentials | None:
        """The credentials, or None when `loaded` is still the current version. Raises
        CertificateError, OSError, ssl.SSLError or StoreError when they cannot be had."""


class CertificateFiles:
    """PEM files on disk: loaded whenever asked (SIGHUP), since their content has no version."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._cert, self._key = cert, key
        self.name = str(cert)

    def load(self, loaded: str | None) -> TlsCredentials:
        context = server_context(self._cert, self._key)
        return TlsCredentials(context, leaf_certificate(self._cert.read_text("ascii")), self.name)


class CertificateSecret:
    """A Secrets Manager secret whose text is the PEM certificate chain (leaf first) and its
    private key, in any order: `cat fullchain.pem privkey.pem` (docs/deployment.md)."""

    def __init__(self, secrets: SecretReader, secret_id: str) -> None:
        self._secrets = secrets
        self.name = secret_id

    def load(self, loaded: str | None) -> TlsCredentials | None:
        value = self._secrets.current(self.name)
        if value.version == loaded:
            return None
        return credentials_from_pem(value.text, version=value.version)


def credentials_from_pem(bundle: str, *, version: str) -> TlsCredentials:
    """A server context from one PEM text holding certificates and exactly one unencrypted key.

    `ssl` loads a certificate chain from files only: the two halves go to files in a private
    temporary directory (mode 0700) that is removed as soon as they are loaded.
    """
    blocks = [(match["label"], match[0]) for match in _PEM_BLOCK.finditer(bundle)]
    certificates = [block for label, block in blocks if label == "CERTIFICATE"]
    keys = [block for label, block in blocks if label in _KEY_LABELS]
    if any(label == "ENCRYPTED PRIVATE KEY" for label, _ in blocks):
        raise CertificateError("the private key is encrypted; store it without a passphrase")
    if not certificates or len(keys) != 1:
        raise CertificateError(
            "expected PEM certificates (leaf first) and exactly one private key, "
            f"found {len(certificates)} certificate(s) and {len(keys)} key(s)"
        )
    with tempfile.TemporaryDirectory(prefix="popd-tls-") as directory:
        cert_path, key_path = Path(directory, "chain.pem"), Path(directory, "key.pem")
        cert_path.write_text("\n".join(certificates) + "\n", "ascii")
        key_path.touch(mode=0o600)
        key_path.write_text(keys[0] + "\n", "ascii")
        context = server_context(cert_path, key_path)
    return TlsCredentials(context, certificates[0] + "\n", version)


def certificate_source(
    settings: Settings, secrets: Callable[[], SecretReader]
) -> CertificateSource | None:
    """The source the settings name: the secret (read through the reader `secrets` makes), the
    file pair, or none (no STLS, no POP3S)."""
    if settings.tls_secret:
        return CertificateSecret(secrets(), settings.tls_secret)
    if settings.tls_cert and settings.tls_key:
        return CertificateFiles(settings.tls_cert, settings.tls_key)
    return None
