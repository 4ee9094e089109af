"""fetchmail over STLS retrieves the corpus byte-exact (issue 3)."""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from pathlib import Path

from tests.clients.conftest import Server, exercise
from tests.support import client_program

# fetchmail 6.4 (with an MDA and `no stripcr`) cuts a line after each 8191 octets and inserts
# NUL, one more octet that varies from run to run (stale buffer memory), CR, LF.
SPLIT = re.compile(rb"\x00[\x00-\xff]\r\n")


def without_received(message: bytes) -> bytes:
    """Remove the one Received header fetchmail puts first (with its continuation lines)."""
    assert message.startswith(b"Received: from 127.0.0.1"), message[:200]
    end = 0
    while True:
        end = message.index(b"\r\n", end) + 2
        if message[end : end + 1] not in (b" ", b"\t"):
            return message[end:]


def unsplit(message: bytes) -> bytes:
    """Join the lines fetchmail split (`SPLIT`), checking each cut follows 8191 line octets."""
    pieces = SPLIT.split(message)
    for piece in pieces[:-1]:
        assert len(piece) - (piece.rfind(b"\n") + 1) >= 8191, "a split not at a long line"
    return b"".join(pieces)


def test_fetchmail_retrieves_the_corpus_byte_exact_keeping_and_deleting(
    server: Server, tmp_path: Path
) -> None:
    fetchmail = client_program("fetchmail")
    home = tmp_path / "home"
    inbox = tmp_path / "inbox"
    home.mkdir()
    inbox.mkdir()

    def run(keep: bool) -> list[bytes]:
        rc = home / "fetchmailrc"
        rc.write_text(
            f"poll 127.0.0.1 service {server.endpoints.pop3_port} protocol POP3 uidl\n"
            f'  user "{server.user}" there with password "{server.password}"\n'
            f'  is "{getpass.getuser()}" here\n'
            f"  options {'keep' if keep else 'no keep'} no rewrite no stripcr no mimedecode\n"
            # STLS, the certificate checked against the trustme CA (its name is "localhost").
            f'  sslproto "TLS1.2+" sslcommonname "localhost" sslcertck\n'
            f'  sslcertfile "{server.ca_file}"\n'
            f'  mda "cat > {inbox}/msg.$$"\n'
        )
        rc.chmod(0o600)
        for old in inbox.iterdir():
            old.unlink()
        result = subprocess.run(
            [
                fetchmail,
                "--fetchmailrc",
                str(rc),
                "--idfile",
                str(home / "ids"),
                "--pidfile",
                str(home / "pid"),
                "--nosyslog",
            ],
            capture_output=True,
            env={**os.environ, "HOME": str(home)},
            timeout=120,
        )
        # 0: mail retrieved; 1: no mail.
        assert result.returncode in (0, 1), result.stderr.decode()[-3000:]
        return [unsplit(without_received(path.read_bytes())) for path in sorted(inbox.iterdir())]

    exercise(server, run)
