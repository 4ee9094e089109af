"""TLS for the POP3 listeners: a modern server context and the dev stack's certificate."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context that speaks TLS 1.2+ with forward-secret AEAD ciphers only (RFC 8314 §3)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # TLS 1.3 suites are always AEAD; restrict TLS 1.2 to ECDHE with AES-GCM or ChaCha20.
    context.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(cert, key)
    return context


def leaf_certificate(text: str) -> str:
    """The first PEM certificate of a chain: the one the server presents, whose hash is the
    tls-server-end-point channel binding (RFC 5929 §4) for SCRAM-SHA-256-PLUS."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.index(begin)
    return text[start : text.index(end, start) + len(end)] + "\n"


def write_self_signed(directory: Path, *, days: int = 365) -> tuple[Path, Path]:
    """Write (or reuse) a self-signed certificate for `localhost` and 127.0.0.1 into `directory`.

    An existing pair is reused while it is valid for another day, so a mail client that was told
    to trust it keeps trusting it across `popdrop dev` restarts.
    """
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "popdrop-dev.crt", directory / "popdrop-dev.key"
    now = datetime.datetime.now(datetime.UTC)
    if cert_path.exists() and key_path.exists():
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if existing.not_valid_after_utc > now + datetime.timedelta(days=1):
            return cert_path, key_path

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
