"""The daemon end to end on the moto stack: retrieval is byte-exact, deletion needs QUIT.

DESIGN invariants 2 (nothing deleted without QUIT in UPDATE) and 4 (LIST size = RETR octets).
"""

from __future__ import annotations

import poplib
import ssl

from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon
from tests.support import RawClient, curl_retr, deliver, unstuff

PLAIN = b"From: a@example.test\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"
LEADING_DOT = b".From: odd\r\n\r\n.\r\n..two\r\nend\r\n"


def login(daemon: Daemon) -> RawClient:
    client = RawClient(daemon.endpoints.pop3_port)
    assert client.line().startswith(b"+OK")
    assert client.command(f"USER {ADDRESS}").startswith(b"+OK")
    assert client.command(f"PASS {PASSWORD}").startswith(b"+OK")
    return client


def test_retr_sends_the_stored_octets_and_list_counts_them_rfc1939_s7(daemon: Daemon) -> None:
    deliver(daemon.store, PLAIN, ADDRESS)
    deliver(daemon.store, LEADING_DOT, ADDRESS)
    client = login(daemon)
    assert client.command("STAT") == f"+OK 2 {len(PLAIN) + len(LEADING_DOT)}\r\n".encode()
    assert client.command("LIST").startswith(b"+OK")
    assert client.multiline() == f"1 {len(PLAIN)}\r\n2 {len(LEADING_DOT)}\r\n.\r\n".encode()
    for number, expected in ((1, PLAIN), (2, LEADING_DOT)):
        assert client.command(f"RETR {number}").startswith(b"+OK")
        wire = client.multiline()
        assert unstuff(wire) == expected
    client.close()


def test_a_message_whose_first_octet_is_a_dot_is_stuffed_rfc1939_s3(daemon: Daemon) -> None:
    deliver(daemon.store, LEADING_DOT, ADDRESS)
    client = login(daemon)
    client.command("RETR 1")
    assert client.multiline() == b"..From: odd\r\n\r\n..\r\n...two\r\nend\r\n.\r\n"
    client.close()


def test_dele_then_quit_removes_the_message_rfc1939_s6(daemon: Daemon) -> None:
    deliver(daemon.store, PLAIN, ADDRESS)
    client = login(daemon)
    assert client.command("DELE 1").startswith(b"+OK")
    assert client.command("QUIT").startswith(b"+OK")
    client.close()
    assert daemon.store.list_messages(ADDRESS) == ()


def test_a_dropped_connection_commits_nothing_design_invariant_2(daemon: Daemon) -> None:
    deliver(daemon.store, PLAIN, ADDRESS)
    client = login(daemon)
    assert client.command("DELE 1").startswith(b"+OK")
    client.close()  # no QUIT
    # A new session sees the message: the first session's DELE was never committed.
    again = login(daemon)
    assert again.command("STAT") == f"+OK 1 {len(PLAIN)}\r\n".encode()
    again.command("QUIT")
    again.close()
    assert len(daemon.store.list_messages(ADDRESS)) == 1


def test_wrong_password_and_unknown_mailbox_get_the_same_reply(daemon: Daemon) -> None:
    replies = []
    for user, password in ((ADDRESS, "wrong"), ("nobody@example.test", PASSWORD)):
        client = RawClient(daemon.endpoints.pop3_port)
        client.line()
        client.command(f"USER {user}")
        replies.append(client.command(f"PASS {password}"))
        client.close()
    assert replies[0] == replies[1]
    assert replies[0].startswith(b"-ERR [AUTH]")


def test_poplib_over_stls_retrieves_and_deletes_rfc2595(daemon: Daemon) -> None:
    deliver(daemon.store, PLAIN, ADDRESS)
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    client = poplib.POP3("127.0.0.1", daemon.endpoints.pop3_port, timeout=10)
    client.stls(context)
    client.user(ADDRESS)
    client.pass_(PASSWORD)
    _, lines, _ = client.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == PLAIN
    client.dele(1)
    client.quit()
    assert daemon.store.list_messages(ADDRESS) == ()


def test_poplib_over_implicit_tls_rfc8314(daemon: Daemon) -> None:
    deliver(daemon.store, PLAIN, ADDRESS)
    assert daemon.endpoints.pop3s_port is not None
    context = ssl.create_default_context(cafile=str(daemon.ca_file))
    client = poplib.POP3_SSL("127.0.0.1", daemon.endpoints.pop3s_port, context=context, timeout=10)
    client.user(ADDRESS)
    client.pass_(PASSWORD)
    assert client.stat() == (1, len(PLAIN))
    assert client.uidl(1).split()[0] == b"+OK"
    client.quit()


def test_curl_retrieves_byte_exact(daemon: Daemon) -> None:
    deliver(daemon.store, LEADING_DOT, ADDRESS)
    assert curl_retr(daemon.endpoints.pop3_port, ADDRESS, PASSWORD, 1) == LEADING_DOT
