"""The POP4 extension (docs/pop4.md) end to end: the daemon on the moto stack, a real socket, raw
commands and Python's poplib. With POPDROP_POP4 off, nothing of it is visible; on, folders are
made, selected, filled by MOVE and COPY at QUIT (RFC 1939 §6's UPDATE state), and PART sends one
part of a message from one ranged GET."""

from __future__ import annotations

import poplib
from collections import Counter

from tests.conftest import AwsCall
from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon, DaemonFactory
from tests.support import RawClient, deliver, unstuff

PLAIN = b"From: a@example.test\r\nSubject: one\r\n\r\nHello.\r\n"
ATTACHMENT = b"%PDF-" + b"x" * 20_000 + b"\r\n"
TEXT = b"Short note.\r\n" * 80  # about 1 KB
MULTIPART = (
    b"From: a@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\npreamble\r\n'
    b"--b1\r\nContent-Type: text/plain\r\n\r\n" + TEXT + b"--b1\r\n"
    b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n'
    b"\r\n" + ATTACHMENT + b"--b1--\r\n"
)


def login(daemon: Daemon) -> tuple[RawClient, bytes]:
    client = RawClient(daemon.endpoints.pop3_port)
    greeting = client.line()
    assert client.command(f"USER {ADDRESS}").startswith(b"+OK")
    assert client.command(f"PASS {PASSWORD}").startswith(b"+OK")
    return client, greeting


def test_with_pop4_off_nothing_of_it_shows(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory()
    client, greeting = login(daemon)
    assert b"POP4" not in greeting
    assert client.command("CAPA").startswith(b"+OK")
    assert b"POP4" not in client.multiline()
    for command in ("LFLD", "SFLD news", "CFLD news", "MIME 1", "PART 1 1"):
        assert client.command(command).startswith(b"-ERR")
    client.close()


def test_greeting_and_capa_announce_pop4_rev0_rfc2449_s5(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(pop4=True)
    client, greeting = login(daemon)
    assert b"POP4 rev0" in greeting
    assert client.command("CAPA").startswith(b"+OK")
    assert b"XPOP4 rev0\r\n" in client.multiline()
    client.close()


def test_folders_are_made_filled_and_listed_at_quit(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, PLAIN, ADDRESS)
    deliver(daemon.store, PLAIN, ADDRESS)
    client, _ = login(daemon)
    assert client.command("LFLD").startswith(b"+OK")
    size = len(PLAIN)
    assert client.multiline() == f"INBOX 2 {2 * size}\r\nQuarantine 0 0\r\n.\r\n".encode()
    assert client.command("CFLD news") == b"+OK Folder created.\r\n"
    assert client.command("MOVE 1 news").startswith(b"+OK")
    assert client.command("COPY 2 news").startswith(b"+OK")
    assert client.command("STAT") == f"+OK 1 {size}\r\n".encode()  # MOVE hides it, like DELE
    assert client.command("RETR 1").startswith(b"-ERR")
    assert client.command("QUIT").startswith(b"+OK")
    client.close()

    client, _ = login(daemon)
    assert client.command("LFLD").startswith(b"+OK")
    listed = client.multiline()
    assert listed == f"INBOX 1 {size}\r\nQuarantine 0 0\r\nnews 2 {2 * size}\r\n.\r\n".encode()
    assert client.command("SFLD news") == f"+OK 2 {2 * size}\r\n".encode()
    assert client.command("RETR 1").startswith(b"+OK")
    assert unstuff(client.multiline()) == PLAIN
    client.close()


def test_a_dropped_connection_commits_no_folder_change_design_invariant_2(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, PLAIN, ADDRESS)
    client, _ = login(daemon)
    assert client.command("CFLD kept").startswith(b"+OK")
    assert client.command("MOVE 1 kept").startswith(b"+OK")
    client.close()  # no QUIT

    client, _ = login(daemon)  # waits for the dropped session's lease to be given back
    assert client.command("LFLD").startswith(b"+OK")
    assert client.multiline() == f"INBOX 1 {len(PLAIN)}\r\nQuarantine 0 0\r\n.\r\n".encode()
    client.close()


def test_mime_lists_parts_numbered_as_imap_does_rfc3501_s6_4_5(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, MULTIPART, ADDRESS)
    client, _ = login(daemon)
    assert client.command("MIME 1") == b"+OK 2 parts\r\n"
    lines = client.multiline().split(b"\r\n")
    assert lines[0].split() == [b"1", b"text/plain", str(len(TEXT)).encode()]
    assert lines[1].split()[::3] == [b"2", b"a.pdf"]
    client.close()


def test_part_of_a_1kb_text_part_of_a_20mb_message_is_one_small_ranged_get(
    daemon_factory: DaemonFactory, aws_calls: list[AwsCall]
) -> None:
    big = MULTIPART.replace(ATTACHMENT, b"y" * 20_000_000 + b"\r\n")
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, big, ADDRESS)
    client, _ = login(daemon)
    assert client.command("MIME 1").startswith(b"+OK")  # the structure: read once, then cached
    client.multiline()
    aws_calls.clear()

    assert client.command("PART 1 1").startswith(b"+OK")
    assert unstuff(client.multiline()).startswith(TEXT)

    gets = [call for call in aws_calls if call.operation == "GetObject"]
    assert len(gets) == 1
    first, last = gets[0].headers["Range"].removeprefix("bytes=").split("-")
    assert int(last) - int(first) + 1 == len(TEXT)
    assert Counter(call.operation for call in aws_calls) == Counter(GetObject=1)
    client.close()


def test_part_with_octets_sends_only_the_first_octets(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, MULTIPART, ADDRESS)
    client, _ = login(daemon)
    assert client.command("PART 1 2 5") == b"+OK 5 octets\r\n"
    assert client.multiline() == b"%PDF-\r\n.\r\n"
    client.close()


def test_poplib_sees_plain_pop3_with_pop4_on(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, PLAIN, ADDRESS)
    pop = poplib.POP3("127.0.0.1", daemon.endpoints.pop3_port, timeout=10)
    pop.user(ADDRESS)
    pop.pass_(PASSWORD)
    assert pop.stat() == (1, len(PLAIN))
    assert b"\r\n".join(pop.retr(1)[1]) + b"\r\n" == PLAIN
    _, folders, _ = pop._longcmd("LFLD")  # poplib has no LFLD
    assert folders == [f"INBOX 1 {len(PLAIN)}".encode(), b"Quarantine 0 0"]
    pop.quit()


def test_request_counts_per_folder_command(
    daemon_factory: DaemonFactory, aws_calls: list[AwsCall]
) -> None:
    """Cost (DESIGN): LFLD is two Queries (directory with counters, and the quarantine's sizes),
    once per session; SFLD the listing version's GetItem and, unless this daemon read the folder
    at that version already (`popd.listing_cache`), one more Query; CFLD, MOVE and COPY nothing
    until QUIT; MIME one GetItem, and the first time the object's one GET and the cache's
    UpdateItem; QUIT with a new folder, a move and a copy: the directory's transaction, one
    transaction for the messages, the release."""
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, PLAIN, ADDRESS)
    deliver(daemon.store, MULTIPART, ADDRESS)
    client, _ = login(daemon)

    def costs(command: str, *, multiline: bool = False) -> Counter[str]:
        aws_calls.clear()
        assert client.command(command).startswith(b"+OK")
        if multiline:
            client.multiline()
        return Counter(call.operation for call in aws_calls)

    assert costs("LFLD", multiline=True) == Counter(Query=2)
    assert costs("CFLD news") == Counter()
    assert costs("MOVE 1 news") == Counter()
    assert costs("COPY 2 news") == Counter()
    assert costs("MIME 2", multiline=True) == Counter(GetItem=1, GetObject=1, UpdateItem=1)
    assert costs("SFLD INBOX") == Counter()  # INBOX's snapshot is the login's
    assert costs("SFLD news") == Counter()  # made in this session: empty until QUIT
    assert costs("QUIT") == Counter(UpdateItem=1, TransactWriteItems=2)
    client.close()

    client, _ = login(daemon)
    # The folders (LFLD's two), the listing version, then news's listing.
    assert costs("SFLD news") == Counter(Query=3, GetItem=1)
    assert costs("LFLD", multiline=True) == Counter()  # read once per session
    assert costs("MIME 2", multiline=True) == Counter(GetItem=1)  # the copy's cached structure
    client.command("QUIT")
    client.close()

    client, _ = login(daemon)
    assert costs("SFLD news") == Counter(Query=2, GetItem=1)  # news unchanged: not read again
    client.close()


def test_a_plain_client_reads_a_folder_by_logging_in_as_user_plus_folder(
    daemon_factory: DaemonFactory,
) -> None:
    """Cyrus-style `user+folder` logins (docs/pop4.md): poplib, knowing nothing of POP4, reads
    and deletes in the folder with alice's own password; INBOX is untouched."""
    daemon = daemon_factory(pop4=True)
    deliver(daemon.store, PLAIN, ADDRESS)
    client, _ = login(daemon)
    for command in ("CFLD News", "MOVE 1 News", "QUIT"):
        assert client.command(command).startswith(b"+OK")
    client.close()
    deliver(daemon.store, MULTIPART, ADDRESS)

    user, _, domain = ADDRESS.partition("@")
    pop = poplib.POP3("127.0.0.1", daemon.endpoints.pop3_port, timeout=10)
    pop.user(f"{user}+news@{domain}")
    pop.pass_(PASSWORD)
    assert pop.stat() == (1, len(PLAIN))
    assert b"\r\n".join(pop.retr(1)[1]) + b"\r\n" == PLAIN
    pop.dele(1)
    pop.quit()

    assert [(f.name, f.messages) for f in daemon.store.list_folders(ADDRESS)] == [
        ("INBOX", 1),
        ("Quarantine", 0),
        ("News", 0),
    ]


def test_a_folder_login_to_no_such_folder_is_refused_after_the_password(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(pop4=True)
    user, _, domain = ADDRESS.partition("@")
    client = RawClient(daemon.endpoints.pop3_port)
    client.line()
    client.command(f"USER {user}+missing@{domain}")
    assert client.command(f"PASS {PASSWORD}") == b"-ERR [SYS/PERM] No such folder.\r\n"
    client.command(f"USER {user}+missing@{domain}")
    assert client.command("PASS wrong").startswith(b"-ERR [AUTH]")  # no folder probing
    client.close()


def test_with_pop4_off_a_plus_login_names_another_user(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory()
    user, _, domain = ADDRESS.partition("@")
    client = RawClient(daemon.endpoints.pop3_port)
    client.line()
    client.command(f"USER {user}+news@{domain}")
    assert client.command(f"PASS {PASSWORD}").startswith(b"-ERR [AUTH]")
    client.close()
