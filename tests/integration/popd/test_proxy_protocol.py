"""PROXY protocol v1/v2 from trusted load balancers, on both ports (issue 4).

The address a header names is the one the daemon uses: here it shows through the plaintext policy
(`loopback`): a header naming a public client makes USER disappear from CAPA.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl

import pytest

from popd import listener
from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon, DaemonFactory
from tests.support import RawClient, logout_line
from tests.unit.core.test_proxy_protocol import V1_TCP4, v2

TRUSTED = "127.0.0.0/8"
UNTRUSTED = "192.0.2.0/24"


def capa(client: RawClient) -> bytes:
    client.send(b"CAPA\r\n")
    return client.multiline()


def assert_closed(client: RawClient) -> None:
    """The server closed without another byte (a reset, when our bytes were left unread)."""
    with contextlib.suppress(ConnectionResetError):
        assert client.sock.recv(100) == b""
    client.close()


def connect_with_header(daemon: Daemon, header: bytes) -> RawClient:
    client = RawClient(daemon.endpoints.pop3_port)
    client.send(header)
    return client


def test_a_trusted_v2_header_names_the_client_used_for_policy(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    public = connect_with_header(daemon, v2("203.0.113.7"))
    assert public.line().startswith(b"+OK")
    assert b"\r\nUSER\r\n" not in capa(public)
    public.close()
    local = connect_with_header(daemon, v2("127.0.0.9"))
    assert local.line().startswith(b"+OK")
    assert b"\r\nUSER\r\n" in capa(local)
    local.close()


def test_a_trusted_v1_header_is_accepted(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    client = connect_with_header(daemon, V1_TCP4)
    assert client.line().startswith(b"+OK")
    assert b"\r\nUSER\r\n" not in capa(client)  # 203.0.113.7 is not loopback
    client.close()


def test_a_header_and_the_first_command_in_one_segment_both_count(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    client = connect_with_header(daemon, v2("127.0.0.9") + b"CAPA\r\n")
    assert client.line().startswith(b"+OK")  # greeting
    assert client.line().startswith(b"+OK")  # CAPA's status line
    client.close()


def test_v2_on_the_tls_port_leaves_the_client_hello_for_the_handshake(
    daemon_factory: DaemonFactory,
) -> None:
    """Header and ClientHello in ONE write: the listener must read exactly the header."""
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    assert daemon.endpoints.pop3s_port is not None
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    raw = socket.create_connection(("127.0.0.1", daemon.endpoints.pop3s_port), timeout=10)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    raw.sendall(v2("127.0.0.9") + outgoing.read())
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            if pending := outgoing.read():
                raw.sendall(pending)
            incoming.write(raw.recv(65536))
    if pending := outgoing.read():
        raw.sendall(pending)
    greeting = b""
    while not greeting.endswith(b"\r\n"):
        try:
            greeting += tls.read(1024)
        except ssl.SSLWantReadError:
            incoming.write(raw.recv(65536))
    assert greeting.startswith(b"+OK")
    raw.close()


def test_implicit_tls_with_a_header_then_a_login(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    assert daemon.endpoints.pop3s_port is not None
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    raw = socket.create_connection(("127.0.0.1", daemon.endpoints.pop3s_port), timeout=10)
    raw.sendall(v2("203.0.113.7"))
    with context.wrap_socket(raw, server_hostname="localhost") as secure:
        stream = secure.makefile("rwb")
        assert stream.readline().startswith(b"+OK")
        stream.write(f"USER {ADDRESS}\r\nPASS {PASSWORD}\r\n".encode())
        stream.flush()
        assert stream.readline().startswith(b"+OK")
        assert stream.readline().startswith(b"+OK")  # under TLS, a public client may log in


@pytest.mark.parametrize(
    "header",
    [
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        b"\r\n\r\n\x00\r\nQUIT\n\x99\x11\x00\x00",
        b"CAPA\r\n",
    ],
    ids=["bad-v1-port", "bad-v2-version", "no-header-at-all"],
)
def test_a_malformed_or_missing_header_from_a_trusted_address_closes(
    daemon_factory: DaemonFactory, header: bytes
) -> None:
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    client = connect_with_header(daemon, header)
    assert_closed(client)  # before any greeting


def test_a_trusted_peer_that_sends_no_header_is_dropped_after_a_timeout(
    daemon_factory: DaemonFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listener, "PROXY_HEADER_TIMEOUT", 0.3)
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    client = RawClient(daemon.endpoints.pop3_port)
    assert_closed(client)


@pytest.mark.parametrize("header", [v2("127.0.0.9"), V1_TCP4], ids=["v2", "v1"])
def test_a_header_from_an_untrusted_address_closes_the_connection(
    daemon_factory: DaemonFactory, header: bytes
) -> None:
    daemon = daemon_factory(proxy_trusted_networks=UNTRUSTED)
    client = connect_with_header(daemon, header)
    assert client.line().startswith(b"+OK")  # the greeting goes out before anything is read
    assert_closed(client)  # then the header is refused: no reply


def test_without_trusted_networks_a_header_is_refused_too(daemon: Daemon) -> None:
    client = connect_with_header(daemon, v2("127.0.0.9"))
    assert client.line().startswith(b"+OK")
    assert_closed(client)


@pytest.mark.parametrize("port", ["pop3_port", "pop3s_port"])
@pytest.mark.parametrize("probe", [v2(command=0x0), b""], ids=["v2-local", "closed-at-once"])
def test_a_load_balancer_health_check_is_accepted_and_closed_without_a_log_line(
    daemon_factory: DaemonFactory, caplog: pytest.LogCaptureFixture, port: str, probe: bytes
) -> None:
    """NLB health checks with PROXY v2 on carry a LOCAL header (spec §2.2) and arrive every few
    seconds per target: the connection is accepted and closed, with no session, no TLS
    handshake and no log line. A real client on the same port still gets its session."""
    daemon = daemon_factory(proxy_trusted_networks=TRUSTED)
    number = getattr(daemon.endpoints, port)
    caplog.clear()  # the daemon's start-up lines
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            client = RawClient(number)
            client.sock.sendall(probe)
            client.sock.shutdown(socket.SHUT_WR)
            assert client.sock.recv(100) == b""  # closed by popd, nothing said
            client.close()
        after = RawClient(daemon.endpoints.pop3_port)
        after.send(v2("127.0.0.9"))
        assert after.line().startswith(b"+OK")  # served once the probes are done with
        after.send(b"QUIT\r\n")
        assert after.line().startswith(b"+OK")
        assert_closed(after)
        logout = logout_line(caplog)
    assert logout["peer"] == "127.0.0.9"  # the one line is the real session's
    assert [r.getMessage() for r in caplog.records if r.name.startswith("popd")] == ["pop3.logout"]
