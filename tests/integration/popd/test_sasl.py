"""AUTH (RFC 5034) through the daemon with real clients: curl (PLAIN, LOGIN, OAUTHBEARER,
XOAUTH2), mpop (SCRAM-SHA-256, PLAIN, OAUTHBEARER) and scramp's client for SCRAM-SHA-256-PLUS with
tls-server-end-point channel binding (RFC 5929). JWTs are signed by a test key served from a
local JWKS endpoint."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from scramp import ScramClient

from popdrop.auth.passwords import hash_password
from popdrop.auth.scram import derive_keys
from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon, DaemonFactory
from tests.support import client_program, deliver

ISSUER = "https://issuer.popdrop.test/pool"
AUDIENCE = "popdrop-app-client"
MESSAGE = b"Subject: sasl\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """A JWKS endpoint on loopback serving the test key's public half."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [public | {"kid": "test-key", "use": "sig", "alg": "RS256"}]})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 300,
        "email": ADDRESS,
    } | overrides
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key"})


@pytest.fixture
def sasl_daemon(daemon_factory: DaemonFactory, jwks_url: str) -> Daemon:
    daemon = daemon_factory(oauth_issuer=ISSUER, oauth_audience=AUDIENCE, oauth_jwks_url=jwks_url)
    daemon.store.set_password(ADDRESS, hash_password(PASSWORD), derive_keys(PASSWORD))
    deliver(daemon.store, MESSAGE, ADDRESS)
    return daemon


DENIED = b"< -ERR [AUTH] Authentication failed.\r\n"
CURLE_LOGIN_DENIED = 67


def curl(daemon: Daemon, *options: str) -> subprocess.CompletedProcess[bytes]:
    """curl's POP3 client; --verbose puts the dialogue on stderr ("> " sent, "< " received)."""
    return subprocess.run(
        [
            client_program("curl"),
            "--verbose",
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            *options,
            f"pop3://127.0.0.1:{daemon.endpoints.pop3_port}/1",
        ],
        capture_output=True,
        timeout=30,
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_curl_password_mechanisms_rfc5034(sasl_daemon: Daemon, mechanism: str) -> None:
    result = curl(
        sasl_daemon, "--user", f"{ADDRESS}:{PASSWORD}", "--login-options", f"AUTH={mechanism}"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == MESSAGE


@pytest.mark.parametrize("mechanism", ["OAUTHBEARER", "XOAUTH2"])
def test_curl_bearer_mechanisms_rfc7628(
    sasl_daemon: Daemon, signing_key: rsa.RSAPrivateKey, mechanism: str
) -> None:
    result = curl(
        sasl_daemon,
        "--user",
        ADDRESS,
        "--oauth2-bearer",
        token(signing_key),
        "--login-options",
        f"AUTH={mechanism}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == MESSAGE


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 1_000_000_000},
        {"aud": "another-app"},
        {"iss": "https://evil.test"},
        {"email": "someone-else@example.test"},
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "other-mailbox"],
)
def test_a_token_that_does_not_check_out_is_refused(
    sasl_daemon: Daemon, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    result = curl(
        sasl_daemon,
        "--user",
        ADDRESS,
        "--oauth2-bearer",
        token(signing_key, **claims),
        "--login-options",
        "AUTH=OAUTHBEARER",
    )
    refused(result, b"> AUTH OAUTHBEARER")


def test_a_token_signed_by_another_key_is_refused(sasl_daemon: Daemon) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    result = curl(
        sasl_daemon,
        "--user",
        ADDRESS,
        "--oauth2-bearer",
        token(stranger),
        "--login-options",
        "AUTH=OAUTHBEARER",
    )
    refused(result, b"> AUTH OAUTHBEARER")


def test_a_cognito_access_token_matches_on_client_id(
    sasl_daemon: Daemon, signing_key: rsa.RSAPrivateKey
) -> None:
    access = token(signing_key, aud=None, client_id=AUDIENCE, token_use="access")
    result = curl(
        sasl_daemon, "--user", ADDRESS, "--oauth2-bearer", access, "--login-options", "AUTH=XOAUTH2"
    )
    assert result.returncode == 0, result.stderr


def refused(result: subprocess.CompletedProcess[bytes], asked: bytes) -> None:
    """curl asked with `asked`, the server answered the RFC 3206 [AUTH] failure, and curl
    received no message."""
    assert result.returncode == CURLE_LOGIN_DENIED, result.stderr
    assert asked in result.stderr
    assert DENIED in result.stderr
    assert result.stdout == b""


def mpop(
    daemon: Daemon, tmp_path: Path, auth: str, secret: str, *, tls: bool
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / f"mpoprc-{auth}"
    secret_file = tmp_path / f"secret-{auth}"  # a bearer token is longer than mpop's line limit
    secret_file.write_text(secret)
    port = daemon.endpoints.pop3s_port if tls else daemon.endpoints.pop3_port
    config.write_text(
        "defaults\n"
        f"host 127.0.0.1\nport {port}\n"
        f"tls {'on' if tls else 'off'}\ntls_starttls off\n"
        f"tls_trust_file {daemon.ca_file}\n"
        f"auth {auth}\nuser {ADDRESS}\npasswordeval cat {secret_file}\n"
        f"keep on\nuidls_file {tmp_path}/uidls-{auth}\n"
        f"delivery mbox {tmp_path}/mbox-{auth}\n"
        "account default\n"
    )
    config.chmod(0o600)
    return subprocess.run(
        [client_program("mpop"), f"--file={config}", "--debug"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("auth", "tls"), [("scram-sha-256", True), ("scram-sha-256", False), ("plain", True)]
)
def test_mpop_authenticates_and_retrieves(
    sasl_daemon: Daemon, tmp_path: Path, auth: str, tls: bool
) -> None:
    result = mpop(sasl_daemon, tmp_path, auth, PASSWORD, tls=tls)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / f"mbox-{auth}").read_bytes().endswith(b"\nSubject: sasl\n\nhello\n\n")


def test_mpop_oauthbearer(
    sasl_daemon: Daemon, signing_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    result = mpop(sasl_daemon, tmp_path, "oauthbearer", token(signing_key), tls=True)
    assert result.returncode == 0, result.stderr
    assert "AUTH OAUTHBEARER" in result.stdout  # mpop --debug shows the dialogue
    mbox = (tmp_path / "mbox-oauthbearer").read_bytes()  # mbox format: LF, a blank line after
    assert mbox.endswith(b"\nSubject: sasl\n\nhello\n\n")


def test_mpop_scram_with_a_wrong_password_fails(sasl_daemon: Daemon, tmp_path: Path) -> None:
    result = mpop(sasl_daemon, tmp_path, "scram-sha-256", "wrong", tls=True)
    assert result.returncode != 0
    assert "authentication failed" in result.stderr.lower()


def scram_login(daemon: Daemon, mechanism: str, password: str) -> bytes:
    """SCRAM over implicit TLS with scramp's client, binding to the server's certificate."""
    assert daemon.endpoints.pop3s_port is not None
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    raw = socket.create_connection(("127.0.0.1", daemon.endpoints.pop3s_port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as secure:
        stream = secure.makefile("rwb")
        stream.readline()
        # RFC 5929 §4.1: the hash of the server's certificate (SHA-256 for these certificates).
        binding = hashlib.sha256(secure.getpeercert(binary_form=True)).digest()
        client = ScramClient(
            [mechanism],
            ADDRESS,
            password,
            channel_binding=("tls-server-end-point", binding)
            if mechanism.endswith("PLUS")
            else None,
        )

        def send(line: bytes) -> bytes:
            stream.write(line + b"\r\n")
            stream.flush()
            return stream.readline()

        challenge = send(
            b"AUTH "
            + mechanism.encode()
            + b" "
            + base64.b64encode(client.get_client_first().encode())
        )
        assert challenge.startswith(b"+ "), challenge
        client.set_server_first(base64.b64decode(challenge[2:].strip()).decode())
        final = send(base64.b64encode(client.get_client_final().encode()))
        if not final.startswith(b"+ "):
            return final
        client.set_server_final(
            base64.b64decode(final[2:].strip()).decode()
        )  # server proved itself
        return send(b"")


def test_scram_sha_256_plus_binds_to_the_server_certificate_rfc5929(sasl_daemon: Daemon) -> None:
    assert scram_login(sasl_daemon, "SCRAM-SHA-256-PLUS", PASSWORD).startswith(b"+OK")


def test_scram_sha_256_over_tls_rfc7677(sasl_daemon: Daemon) -> None:
    assert scram_login(sasl_daemon, "SCRAM-SHA-256", PASSWORD).startswith(b"+OK")


def test_scram_with_a_wrong_password_is_refused(sasl_daemon: Daemon) -> None:
    assert scram_login(sasl_daemon, "SCRAM-SHA-256", "wrong").startswith(b"-ERR [AUTH]")


def test_scram_for_an_unknown_mailbox_looks_the_same_until_the_proof(sasl_daemon: Daemon) -> None:
    sasl_daemon.store.remove_mailbox(ADDRESS)
    assert scram_login(sasl_daemon, "SCRAM-SHA-256", PASSWORD).startswith(b"-ERR [AUTH]")


SECRET = "a shared secret"


@pytest.fixture
def cram_daemon(daemon_factory: DaemonFactory) -> Daemon:
    daemon = daemon_factory(cram_md5=True)
    daemon.store.set_apop_secret(ADDRESS, SECRET)
    deliver(daemon.store, MESSAGE, ADDRESS)
    return daemon


def test_curl_cram_md5_with_the_shared_secret_rfc2195(cram_daemon: Daemon) -> None:
    result = curl(cram_daemon, "--user", f"{ADDRESS}:{SECRET}", "--login-options", "AUTH=CRAM-MD5")
    assert result.returncode == 0, result.stderr
    assert result.stdout == MESSAGE


def test_cram_md5_with_the_wrong_secret_fails(cram_daemon: Daemon) -> None:
    result = curl(cram_daemon, "--user", f"{ADDRESS}:wrong", "--login-options", "AUTH=CRAM-MD5")
    refused(result, b"> AUTH CRAM-MD5\r\n")


def test_mpop_cram_md5(cram_daemon: Daemon, tmp_path: Path) -> None:
    result = mpop(cram_daemon, tmp_path, "cram-md5", SECRET, tls=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "AUTH CRAM-MD5" in result.stdout
    assert (tmp_path / "mbox-cram-md5").read_bytes().endswith(b"\nSubject: sasl\n\nhello\n\n")


def test_cram_md5_is_off_unless_enabled(sasl_daemon: Daemon) -> None:
    result = curl(sasl_daemon, "--user", f"{ADDRESS}:{SECRET}", "--login-options", "AUTH=CRAM-MD5")
    assert result.returncode == CURLE_LOGIN_DENIED, result.stderr
    [sasl] = [line for line in result.stderr.splitlines() if line.startswith(b"< SASL ")]
    assert b"CRAM-MD5" not in sasl  # not announced (RFC 2449 §6.9), so curl never asks for it
    assert b"> AUTH" not in result.stderr and result.stdout == b""


def server_first(port: int, name: str, *, source: str = "127.0.0.1") -> dict[str, str]:
    """Start a SCRAM-SHA-256 exchange for `name` on the plain port and cancel it after the
    server-first message (RFC 5802 §5.1); that message's attributes (r, s, i)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    with sock, sock.makefile("rwb") as stream:
        stream.readline()
        first = f"n,,n={name},r=clientnonce".encode()
        stream.write(b"AUTH SCRAM-SHA-256 " + base64.b64encode(first) + b"\r\n")
        stream.flush()
        challenge = stream.readline()
        assert challenge.startswith(b"+ "), challenge
        stream.write(b"*\r\n")
        stream.flush()
        assert stream.readline() == b"-ERR Authentication cancelled.\r\n"
    text = base64.b64decode(challenge[2:].strip()).decode()
    return dict(attribute.split("=", 1) for attribute in text.split(","))


def test_scram_salts_and_counts_do_not_tell_unknown_names_from_mailboxes(
    daemon_factory: DaemonFactory,
) -> None:
    """Issue 15: an unknown name's salt has a real one's length and iteration count, depends only
    on the normalised name, and is the same in every replica sharing POPDROP_DECOY_KEY."""
    key = "k" * 40
    first = daemon_factory(decoy_key=key)
    first.store.set_password(ADDRESS, hash_password(PASSWORD), derive_keys(PASSWORD))
    port = first.endpoints.pop3_port
    real = server_first(port, ADDRESS)
    unknown = server_first(port, "nobody@example.test")
    assert len(base64.b64decode(unknown["s"])) == len(base64.b64decode(real["s"])) == 32
    assert unknown["i"] == real["i"] == "50000"
    assert server_first(port, "Nobody@Example.TEST")["s"] == unknown["s"]
    assert server_first(port, "someone@example.test")["s"] != unknown["s"]
    replica = daemon_factory(decoy_key=key).endpoints.pop3_port
    assert server_first(replica, "nobody@example.test")["s"] == unknown["s"]
    assert server_first(replica, ADDRESS)["s"] == real["s"]


def test_scram_failures_count_against_the_mailbox_named(
    daemon_factory: DaemonFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15: a wrong SCRAM proof is a failed login on the account it names, shared with
    USER/PASS, not on one account for every SCRAM exchange."""
    daemon = daemon_factory(auth_penalty_base=0.05)
    daemon.store.set_password(ADDRESS, hash_password(PASSWORD), derive_keys(PASSWORD))
    bob = "bob@example.test"
    daemon.store.create_mailbox(bob, hash_password(PASSWORD), derive_keys(PASSWORD))
    port = daemon.endpoints.pop3_port

    def scram_fail(user: str, source: str) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
        with sock, sock.makefile("rwb") as stream:
            stream.readline()
            client = ScramClient(["SCRAM-SHA-256"], user, "wrong")
            stream.write(
                b"AUTH SCRAM-SHA-256 "
                + base64.b64encode(client.get_client_first().encode())
                + b"\r\n"
            )
            stream.flush()
            client.set_server_first(base64.b64decode(stream.readline()[2:].strip()).decode())
            stream.write(base64.b64encode(client.get_client_final().encode()) + b"\r\n")
            stream.flush()
            assert stream.readline() == b"-ERR [AUTH] Authentication failed.\r\n"

    caplog.set_level("INFO", logger="popd.auth")
    scram_fail(ADDRESS, "127.0.0.2")
    scram_fail(bob, "127.0.0.3")
    with socket.create_connection(
        ("127.0.0.1", port), timeout=10, source_address=("127.0.0.4", 0)
    ) as sock:
        stream = sock.makefile("rwb")
        stream.readline()
        stream.write(f"USER {ADDRESS}\r\nPASS wrong\r\n".encode())
        stream.flush()
        assert stream.readline() == b"+OK Send PASS.\r\n"
        assert stream.readline() == b"-ERR [AUTH] Authentication failed.\r\n"
    failures = [
        record.fields  # type: ignore[attr-defined]
        for record in caplog.records
        if record.getMessage() == "auth.failed"
    ]
    assert [(f["account"], f["client"], f["delay"]) for f in failures] == [
        (ADDRESS, "127.0.0.2", 0.05),
        (bob, "127.0.0.3", 0.05),  # a fresh address and a fresh account: the first delay
        (ADDRESS, "127.0.0.4", 0.1),  # Alice's second failure, whatever the mechanism
    ]
