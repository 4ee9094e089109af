"""`popdrop serve` reloads its certificate on SIGHUP without dropping sessions (issue 4)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import trustme

from popdrop.store import Store
from tests.support import free_port


def write_pair(ca: trustme.CA, directory: Path) -> bytes:
    """Issue a fresh certificate into cert.pem/key.pem; returns its DER form."""
    issued = ca.issue_cert("localhost", "127.0.0.1")
    issued.private_key_and_cert_chain_pem.write_to_path(str(directory / "cert.pem"))
    issued.private_key_pem.write_to_path(str(directory / "key.pem"))
    return ssl.PEM_cert_to_DER_cert(issued.cert_chain_pems[0].bytes().decode())


def tls_connect(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    secure = context.wrap_socket(raw, server_hostname="localhost")
    assert secure.makefile("rb").readline().startswith(b"+OK")
    return secure


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("popdrop serve did not listen")


def test_sighup_reloads_the_certificate_and_open_sessions_survive(
    store: Store, tmp_path: Path
) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context()
    ca.configure_trust(context)
    first = write_pair(ca, tmp_path)
    pop3, pop3s = free_port(), free_port()
    env = {
        **os.environ,
        "POPDROP_TABLE": store.table,
        "POPDROP_BUCKET": store.bucket,
        "POPDROP_TLS_CERT": str(tmp_path / "cert.pem"),
        "POPDROP_TLS_KEY": str(tmp_path / "key.pem"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "popd.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--pop3-port",
            str(pop3),
            "--pop3s-port",
            str(pop3s),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(pop3s, process)
        old = tls_connect(pop3s, context)
        assert old.getpeercert(binary_form=True) == first

        second = write_pair(ca, tmp_path)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while True:
            fresh = tls_connect(pop3s, context)
            served = fresh.getpeercert(binary_form=True)
            fresh.close()
            if served == second or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert served == second

        old.sendall(b"CAPA\r\n")
        assert old.makefile("rb").readline().startswith(b"+OK")
        old.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
