"""curl's POP3 client over STLS retrieves the corpus byte-exact (issue 3).

curl retrieves one message per invocation (`pop3://host/N`: RETR) and sends it to stdout with the
dot-stuffing removed and CRLF kept: nothing to undo. It has no memory between runs, so the UIDL
bookkeeping a mail fetcher keeps is done here: `-X UIDL` lists the unique ids, and a deletion is
`-X DELE` on the message's URL (curl then sends QUIT, so the deletion is committed).
"""

from __future__ import annotations

import subprocess

from tests.clients.conftest import Server, exercise
from tests.support import client_program


def test_curl_retrieves_the_corpus_byte_exact_keeping_and_deleting(server: Server) -> None:
    curl = client_program("curl")
    base = f"pop3://127.0.0.1:{server.endpoints.pop3_port}/"

    def call(*args: str) -> bytes:
        result = subprocess.run(
            [
                curl,
                "--silent",
                "--show-error",
                "--max-time",
                "60",
                "--ssl-reqd",
                "--cacert",
                str(server.ca_file),
                "--user",
                f"{server.user}:{server.password}",
                *args,
            ],
            capture_output=True,
            timeout=90,
        )
        assert result.returncode == 0, (args, result.stderr.decode()[-3000:])
        return result.stdout

    seen: set[str] = set()

    def run(keep: bool) -> list[bytes]:
        listing = call("--request", "UIDL", base)
        retrieved: dict[str, bytes] = {}
        for line in listing.splitlines():
            number, uid = line.decode().split()
            if uid not in seen:
                retrieved[number] = call(base + number)
                seen.add(uid)
        # Each invocation is a session of its own, and a committed DELE renumbers the messages
        # after it in the next session (RFC 1939 §5 keeps numbers only within one): delete from
        # the highest number down.
        for number in [] if keep else sorted(retrieved, key=int, reverse=True):
            call("--request", "DELE", "--head", base + number)
        return list(retrieved.values())

    exercise(server, run)
