"""Plaintext refusal over a real socket, and fetchmail over implicit TLS (issue 4)."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

from tests.integration.popd.conftest import ADDRESS, PASSWORD, DaemonFactory
from tests.support import RawClient, client_program, deliver


def test_without_tls_passwords_are_refused_with_a_pointer_to_stls_rfc2595(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(plaintext_auth="never")
    client = RawClient(daemon.endpoints.pop3_port)
    client.line()
    client.send(b"CAPA\r\n")
    capabilities = client.multiline().split(b"\r\n")
    assert b"USER" not in capabilities
    assert b"STLS" in capabilities
    for command in (f"USER {ADDRESS}", f"PASS {PASSWORD}"):
        reply = client.command(command)
        assert reply == (
            b"-ERR [AUTH] Plaintext authentication disallowed on non-secure connections;"
            b" use STLS first.\r\n"
        )
    client.close()


def test_fetchmail_over_implicit_tls_rfc8314(daemon_factory: DaemonFactory, tmp_path: Path) -> None:
    daemon = daemon_factory(plaintext_auth="never", connection_rate=0)
    message = b"Subject: over POP3S\r\n\r\nhello\r\n"
    deliver(daemon.store, message, ADDRESS)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"poll 127.0.0.1 service {daemon.endpoints.pop3s_port} protocol POP3 uidl\n"
        f'  user "{ADDRESS}" there with password "{PASSWORD}"\n'
        f'  is "{getpass.getuser()}" here\n'
        "  options keep no rewrite\n"
        '  ssl sslproto "TLS1.2+" sslcommonname "localhost" sslcertck\n'
        f'  sslcertfile "{daemon.ca_file}"\n'
        f'  mda "cat > {inbox}/msg"\n'
    )
    rc.chmod(0o600)
    result = subprocess.run(
        [
            client_program("fetchmail"),
            "--fetchmailrc",
            str(rc),
            "--idfile",
            str(tmp_path / "ids"),
            "--pidfile",
            str(tmp_path / "pid"),
            "--nosyslog",
            "--verbose",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # fetchmail adds its own Received header on top (docs/clients.md); the rest is ours.
    dialogue = result.stdout + result.stderr
    # fetchmail --verbose shows the dialogue; with `keep` it reads the message by TOP.
    for line in (f"POP3< +OK 1 {len(message)}", "POP3> TOP 1 ", "POP3< +OK Top of message."):
        assert f"fetchmail: {line}" in dialogue, dialogue
    # fetchmail prepends its own Received header (docs/clients.md) and hands its MDA LF line ends;
    # below that header is exactly what the server sent.
    received, _, rest = (inbox / "msg").read_bytes().partition(b"\nSubject:")
    assert received.startswith(b"Received: from 127.0.0.1 [127.0.0.1]\n\tby ")
    assert b"Subject:" + rest == message.replace(b"\r\n", b"\n")
