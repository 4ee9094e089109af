"""Authentication through the daemon: app passwords, default domain, cache invalidation, penalties
and connection rate limits (issue 4)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from popdrop.auth import app_passwords
from popdrop.auth.authenticator import HASH_THREADS
from popdrop.auth.passwords import hash_password
from popdrop.model import (
    MAX_ADDRESS_OCTETS,
    MAX_PASSWORD_OCTETS,
    AppPassword,
    normalize_address,
    normalize_password,
)
from tests.integration.popd.conftest import ADDRESS, PASSWORD, Daemon, DaemonFactory
from tests.support import RawClient


def login(daemon: Daemon, user: str, password: str) -> tuple[RawClient, bytes]:
    client = RawClient(daemon.endpoints.pop3_port)
    assert client.line().startswith(b"+OK")
    assert client.command(f"USER {user}").startswith(b"+OK")
    return client, client.command(f"PASS {password}")


def test_an_app_password_logs_in_and_its_last_use_is_recorded(daemon: Daemon) -> None:
    password, digest = app_passwords.generate()
    daemon.store.add_app_password(ADDRESS, AppPassword("phone", digest, created_at=1))
    client, reply = login(daemon, ADDRESS, password)
    assert reply.startswith(b"+OK")
    client.close()
    mailbox = daemon.store.get_mailbox(ADDRESS)
    assert mailbox is not None
    (phone,) = mailbox.app_passwords
    assert phone.last_used_at is not None and phone.last_address == "127.0.0.1"


def test_a_revoked_app_password_no_longer_logs_in(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory()
    password, digest = app_passwords.generate()
    daemon.store.add_app_password(ADDRESS, AppPassword("phone", digest, created_at=1))
    daemon.store.revoke_app_password(ADDRESS, "phone")
    client, reply = login(daemon, ADDRESS, password)
    assert reply.startswith(b"-ERR [AUTH]")
    client.close()


def test_the_main_password_still_works_beside_app_passwords(daemon: Daemon) -> None:
    _, digest = app_passwords.generate()
    daemon.store.add_app_password(ADDRESS, AppPassword("phone", digest, created_at=1))
    client, reply = login(daemon, ADDRESS, PASSWORD)
    assert reply.startswith(b"+OK")
    client.close()


def test_a_default_domain_lets_users_log_in_with_the_local_part(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(default_domain="example.test")
    client, reply = login(daemon, ADDRESS.split("@")[0], PASSWORD)
    assert reply.startswith(b"+OK")
    client.close()


def test_a_password_change_takes_effect_at_once_despite_the_cache(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory()
    client, reply = login(daemon, ADDRESS, PASSWORD)  # now cached
    assert reply.startswith(b"+OK")
    client.command("QUIT")
    client.close()
    daemon.store.set_password(ADDRESS, hash_password("a new password"))
    client, reply = login(daemon, ADDRESS, PASSWORD)
    assert reply.startswith(b"-ERR [AUTH]")
    client.close()


def test_failures_are_answered_after_a_growing_delay(daemon_factory: DaemonFactory) -> None:
    """Lower bounds only: the delays are floors, however slow the machine."""
    daemon = daemon_factory(auth_penalty_base=0.2, auth_penalty_max=0.5)
    client = RawClient(daemon.endpoints.pop3_port)
    client.line()
    elapsed = []
    for _ in range(3):
        client.command(f"USER {ADDRESS}")
        started = time.monotonic()
        assert client.command("PASS wrong").startswith(b"-ERR [AUTH]")
        elapsed.append(time.monotonic() - started)
    client.close()
    assert elapsed[0] >= 0.2
    assert elapsed[1] >= 0.4
    assert elapsed[2] >= 0.5  # capped at the maximum


def test_the_right_password_is_not_held_back_by_an_attackers_failures(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(auth_penalty_base=5, auth_penalty_max=5)
    attacker, reply = login(daemon, ADDRESS, "guess")
    assert reply.startswith(b"-ERR [AUTH]")  # after 5 s
    attacker.close()
    started = time.monotonic()
    owner, reply = login(daemon, ADDRESS, PASSWORD)
    assert reply.startswith(b"+OK")
    assert time.monotonic() - started < 4  # no penalty on a success: well under the 5 s
    owner.close()


def test_too_many_connections_from_one_address_are_refused_sys_temp(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(connection_rate=0.001, connection_burst=2)
    first, second = RawClient(daemon.endpoints.pop3_port), RawClient(daemon.endpoints.pop3_port)
    assert first.line().startswith(b"+OK")
    assert second.line().startswith(b"+OK")
    third = RawClient(daemon.endpoints.pop3_port)
    assert third.line().startswith(b"-ERR [SYS/TEMP]")
    for client in (first, second, third):
        client.close()


def test_password_hashes_run_in_a_few_threads_of_their_own(daemon_factory: DaemonFactory) -> None:
    """Each scrypt hash holds 16 MiB while it runs, so concurrent logins hash in at most
    `HASH_THREADS` threads, never in the 64 storage threads (docs/performance.md)."""
    daemon = daemon_factory(max_unauthenticated_per_address=10)
    addresses = [f"hash{number}@example.test" for number in range(6)]
    for address in addresses:
        daemon.store.create_mailbox(address, hash_password(PASSWORD))
    with ThreadPoolExecutor(len(addresses)) as clients:
        logins = list(clients.map(lambda address: login(daemon, address, PASSWORD), addresses))
    for client, reply in logins:
        assert reply.startswith(b"+OK")
        client.close()
    hashing = [thread for thread in threading.enumerate() if thread.name.startswith("popd-hash")]
    assert 1 <= len(hashing) <= HASH_THREADS


def test_the_longest_password_and_address_log_in_with_pass_rfc2449_s4(daemon: Daemon) -> None:
    """Issue 15: what `popdrop mailbox add` accepts, a PASS line can carry: a password of
    MAX_PASSWORD_OCTETS for an address of MAX_ADDRESS_OCTETS."""
    local = "l" * 64
    address = f"{local}@{'d' * (MAX_ADDRESS_OCTETS - len(local) - 1 - 5)}.test"
    password = "pw " * (MAX_PASSWORD_OCTETS // 3) + "x" * (MAX_PASSWORD_OCTETS % 3)
    daemon.store.create_mailbox(normalize_address(address), hash_password(password))
    client, reply = login(daemon, address, password)
    assert reply == b"+OK Logged in.\r\n"
    client.close()


def test_a_password_typed_in_another_normal_form_logs_in_rfc8265_s4_2(daemon: Daemon) -> None:
    """Issue 15: a password is set and checked in one form (NFC, ASCII spaces), so a keyboard
    that sends "e" + U+0301 opens the password set as "é", and a no-break space is a space."""
    daemon.store.set_password(ADDRESS, hash_password(normalize_password("café au lait")))
    client, reply = login(daemon, ADDRESS, "cafe\u0301\u00a0au lait")
    assert reply == b"+OK Logged in.\r\n"
    client.close()
