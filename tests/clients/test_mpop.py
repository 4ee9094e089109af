"""mpop over STLS retrieves the corpus byte-exact (issue 3).

mpop's own transformations, undone here: it delivers with LF line ends (every CRLF becomes LF),
so LF is turned back into CRLF (popdrop stores only CRLF line ends, so this is exact), and it
adds a Received header unless `received_header off`, which the configuration sets. With
`keep off`, mpop also deletes the messages it retrieved in earlier keeping runs (`deletes_seen`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.clients.conftest import Server, exercise
from tests.support import client_program


def test_mpop_retrieves_the_corpus_byte_exact_keeping_and_deleting(
    server: Server, tmp_path: Path
) -> None:
    mpop = client_program("mpop")
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)

    def run(keep: bool) -> list[bytes]:
        rc = tmp_path / "mpoprc"
        rc.write_text(
            "account default\n"
            "host 127.0.0.1\n"
            f"port {server.endpoints.pop3_port}\n"
            f"user {server.user}\n"
            f"password {server.password}\n"
            "auth user\n"
            # STLS, the certificate checked against the trustme CA.
            "tls on\ntls_starttls on\n"
            f"tls_trust_file {server.ca_file}\n"
            f"delivery maildir {maildir}\n"
            f"uidls_file {tmp_path / 'uidls'}\n"
            f"keep {'on' if keep else 'off'}\n"
            "only_new on\n"
            "received_header off\n"
        )
        rc.chmod(0o600)
        for old in (maildir / "new").iterdir():
            old.unlink()
        result = subprocess.run([mpop, f"--file={rc}", "--quiet"], capture_output=True, timeout=120)
        assert result.returncode == 0, result.stderr.decode()[-3000:]
        return [path.read_bytes().replace(b"\n", b"\r\n") for path in (maildir / "new").iterdir()]

    exercise(server, run, deletes_seen=True)
