"""getmail6 over implicit TLS (POP3S, RFC 8314) retrieves the corpus byte-exact (issue 3).

getmail6's own transformations, undone here: it parses each message with Python's `email`
package and re-serialises it with LF line ends, so LF is turned back into CRLF (popdrop stores
only CRLF line ends); and it always writes a Return-Path header first (`<unknown>`: POP3 carries
no envelope sender), which is removed. Its Delivered-To and Received headers are turned off in
the configuration. For this corpus the re-serialisation changes nothing else. With `delete`,
getmail6 also deletes the messages it retrieved in earlier keeping runs (`deletes_seen`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.clients.conftest import Server, exercise
from tests.support import client_program

RETURN_PATH = b"Return-Path: <unknown>\n"


def undo(delivered: bytes) -> bytes:
    """Drop the Return-Path getmail6 always writes first, then LF back to CRLF."""
    assert delivered.startswith(RETURN_PATH), delivered[:200]
    return delivered.removeprefix(RETURN_PATH).replace(b"\n", b"\r\n")


def test_getmail6_retrieves_the_corpus_byte_exact_keeping_and_deleting(
    server: Server, tmp_path: Path
) -> None:
    getmail = client_program("getmail")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    state = tmp_path / "getmail"
    state.mkdir()

    def run(keep: bool) -> list[bytes]:
        (state / "getmailrc").write_text(
            "[retriever]\n"
            "type = SimplePOP3SSLRetriever\n"
            "server = localhost\n"
            f"port = {server.pop3s_port}\n"
            f"username = {server.user}\n"
            f"password = {server.password}\n"
            f"ca_certs = {server.ca_file}\n"
            # An external MDA, because getmail's Maildir delivery refuses to run as root (CI).
            "[destination]\n"
            "type = MDA_external\n"
            "path = /bin/sh\n"
            f'arguments = ("-c", "cat > {inbox}/msg.$$")\n'
            "allow_root_commands = true\n"
            "unixfrom = false\n"
            "[options]\n"
            "read_all = false\n"
            f"delete = {'false' if keep else 'true'}\n"
            "delivered_to = false\n"
            "received = false\n"
            "verbose = 0\n"
        )
        for old in inbox.iterdir():
            old.unlink()
        result = subprocess.run(
            [getmail, f"--getmaildir={state}", "--rcfile=getmailrc"],
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode()[-3000:]
        return [undo(path.read_bytes()) for path in inbox.iterdir()]

    exercise(server, run, deletes_seen=True)
