"""STARTTLS command injection (CVE-2011-0411 and the 2021 "NO STARTTLS" findings), RFC 2595 §4.

Whatever a client (or a man in the middle) sends after the STLS line and before the handshake is
discarded: only what arrives under TLS is a command.
"""

from __future__ import annotations

import socket
import ssl

from tests.integration.popd.conftest import Daemon

INJECTED = b"NOOP\r\n"  # invalid in AUTHORIZATION: executed, it would answer "-ERR" first


def start_tls(daemon: Daemon, *pre_handshake_writes: bytes) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", daemon.endpoints.pop3_port), timeout=10)
    reader = raw.makefile("rb")
    assert reader.readline().startswith(b"+OK")
    for data in pre_handshake_writes:
        raw.sendall(data)
    assert reader.readline().startswith(b"+OK Begin TLS")
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    return context.wrap_socket(raw, server_hostname="localhost")


def first_line(secure: ssl.SSLSocket, command: bytes) -> bytes:
    secure.sendall(command)
    return secure.makefile("rb").readline()


def test_a_command_in_the_same_write_as_stls_is_discarded(daemon: Daemon) -> None:
    secure = start_tls(daemon, b"STLS\r\n" + INJECTED)
    assert first_line(secure, b"CAPA\r\n").startswith(b"+OK")
    secure.close()


def test_a_command_in_a_separate_write_before_the_handshake_never_runs(daemon: Daemon) -> None:
    """Depending on when it lands, the injected line is dropped from the buffer (the handshake
    then succeeds) or arrives inside the handshake (which then fails): never is it a command."""
    try:
        secure = start_tls(daemon, b"STLS\r\n", INJECTED)
    except (ssl.SSLError, ConnectionError):
        return
    assert first_line(secure, b"CAPA\r\n").startswith(b"+OK")
    secure.close()


def test_a_partial_command_line_before_the_handshake_is_discarded(daemon: Daemon) -> None:
    """ "CA" before the handshake + "PA" after it must not make "CAPA"."""
    secure = start_tls(daemon, b"STLS\r\nCA")
    assert first_line(secure, b"PA\r\n").startswith(b"-ERR")
    secure.close()


def test_capa_after_stls_shows_the_post_tls_set_rfc2595_s4(daemon: Daemon) -> None:
    secure = start_tls(daemon, b"STLS\r\n")
    stream = secure.makefile("rwb")
    stream.write(b"CAPA\r\n")
    stream.flush()
    lines = []
    while (line := stream.readline()) != b".\r\n":
        lines.append(line.strip())
    assert b"STLS" not in lines
    assert b"USER" in lines
    stream.write(b"STLS\r\n")
    stream.flush()
    assert stream.readline().startswith(b"-ERR")  # already under TLS
    secure.close()


def test_stls_after_an_earlier_command_still_discards_the_rest_of_its_write(
    daemon: Daemon,
) -> None:
    """The first write is read by the connection's task; later ones are answered inline
    (popd/inline_reader.py), which hands STLS to the task with the injected line unread."""
    raw = socket.create_connection(("127.0.0.1", daemon.endpoints.pop3_port), timeout=10)
    reader = raw.makefile("rb")
    assert reader.readline().startswith(b"+OK")
    raw.sendall(b"CAPA\r\n")
    while reader.readline() != b".\r\n":
        pass
    raw.sendall(b"STLS\r\n" + INJECTED)
    assert reader.readline().startswith(b"+OK Begin TLS")
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    secure = context.wrap_socket(raw, server_hostname="localhost")
    assert first_line(secure, b"CAPA\r\n").startswith(b"+OK")
    secure.close()
