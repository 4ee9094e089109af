"""Python's poplib (standard library) over STLS retrieves the corpus byte-exact (issue 3).

poplib's own transformations, undone here: `retr` returns the lines without their CRLF and with
the dot-stuffing removed (RFC 1939 §3), so the message is the lines joined with CRLF plus a final
CRLF (popdrop always stores one). poplib also refuses lines over `poplib._MAXLINE` (2048 octets)
as a protocol error; the corpus's 64 KiB line needs it raised, as any poplib user must.
"""

from __future__ import annotations

import poplib
import ssl

import pytest

from tests.clients.conftest import Server, exercise


def test_poplib_retrieves_the_corpus_byte_exact_keeping_and_deleting(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poplib, "_MAXLINE", 128 * 1024)
    context = ssl.create_default_context(cafile=str(server.ca_file))
    seen: set[bytes] = set()  # the client's UIDL memory, as fetchmail keeps in .fetchids

    def run(keep: bool) -> list[bytes]:
        client = poplib.POP3("127.0.0.1", server.endpoints.pop3_port, timeout=30)
        client.stls(context)
        client.user(server.user)
        client.pass_(server.password)
        retrieved = []
        for line in client.uidl()[1]:
            number, uid = line.split()
            if uid in seen:
                continue
            lines = client.retr(int(number))[1]
            retrieved.append(b"\r\n".join(lines) + b"\r\n")
            seen.add(uid)
            if not keep:
                client.dele(int(number))
        client.quit()
        return retrieved

    exercise(server, run)
