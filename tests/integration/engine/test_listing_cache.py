"""Logins that read only what changed (issue 13; `popd.listing_cache`): an unchanged maildrop is
not read again, and whatever changes it, through any path and on any replica, is seen at the next
login (RFC 1939 §8: the snapshot is the maildrop as it is when the session starts)."""

from __future__ import annotations

from collections import Counter

from bench.capacity import Meter
from popdrop.auth.passwords import hash_password
from popdrop.ingest import ingest
from popdrop.logfmt import now_ms
from popdrop.model import Address, MessageEntry, Summary
from popdrop.store import Store, codec
from tests.conftest import AwsCall, AwsClients
from tests.support import RawClient, deliver

from .conftest import PASSWORD, StartDaemon, login

MESSAGE = b"From: a@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"


def uidl(port: int, mailbox: str) -> list[str]:
    """The unique ids a new session sees, after which it QUITs without deleting anything."""
    client, reply = login(port, mailbox)
    assert reply.startswith(b"+OK"), reply
    try:
        return _uids(client)
    finally:
        client.command("QUIT")
        client.close()


def _uids(client: RawClient) -> list[str]:
    assert client.command("UIDL").startswith(b"+OK")
    return [line.split()[1].decode() for line in client.multiline().splitlines()[:-1]]


def queries(calls: list[AwsCall]) -> int:
    return Counter(call.operation for call in calls)["Query"]


def test_a_login_to_an_unchanged_maildrop_reads_no_listing_and_sees_the_same_one(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    ids = [deliver(store, MESSAGE, mailbox) for _ in range(3)]
    with start_daemon() as endpoints:
        assert uidl(endpoints.pop3_port, mailbox) == ids
        aws_calls.clear()
        for _ in range(3):
            assert uidl(endpoints.pop3_port, mailbox) == ids
        assert queries(aws_calls) == 0


def test_an_unchanged_login_on_2000_messages_reads_at_most_2_units(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_clients: AwsClients
) -> None:
    """Issue 13's target, in read units computed by AWS's rules (`bench/capacity.py`): the
    first login reads the whole listing, the next only the profile, twice."""
    key = store.put_incoming("shared", MESSAGE)
    summary = Summary(sender="A Sender <a@example.org>", subject="An ordinary subject line")
    items = []
    for n in range(2000):
        entry = MessageEntry(
            Address(mailbox), f"u{n:05d}", key, len(MESSAGE), 38, 1_700_000_000_000 + n, summary
        )
        items += [codec.entry_item(entry), codec.marker_item(entry)]
    for start in range(0, len(items), 25):
        aws_clients.dynamodb.batch_write_item(
            RequestItems={
                store.table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            }
        )
    meter = Meter()
    meter.attach(*aws_clients)
    with start_daemon() as endpoints:
        assert len(uidl(endpoints.pop3_port, mailbox)) == 2000
        first = meter.read_units
        meter.reset()
        assert len(uidl(endpoints.pop3_port, mailbox)) == 2000
        assert meter.read_units <= 2 < first
        assert meter.calls["Query"] == 0


def test_mail_filed_between_logins_is_listed_at_the_next(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    first = deliver(store, MESSAGE, mailbox)
    with start_daemon() as endpoints:
        assert uidl(endpoints.pop3_port, mailbox) == [first]
        second = deliver(store, MESSAGE, mailbox)
        aws_calls.clear()
        assert uidl(endpoints.pop3_port, mailbox) == [first, second]
        assert queries(aws_calls) == 1


def test_deletions_committed_by_another_replica_are_seen_rfc1939_s6(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    """Daemon A keeps the listing; daemon B deletes a message and QUITs (the UPDATE state); A's
    next login must not list it, though nothing told A."""
    ids = [deliver(store, MESSAGE, mailbox) for _ in range(3)]
    with start_daemon() as a, start_daemon() as b:
        assert uidl(a.pop3_port, mailbox) == ids
        client, reply = login(b.pop3_port, mailbox)
        assert reply.startswith(b"+OK")
        assert client.command("DELE 2").startswith(b"+OK")
        assert client.command("QUIT").startswith(b"+OK")
        client.close()
        assert uidl(a.pop3_port, mailbox) == [ids[0], ids[2]]


def test_the_sessions_own_deletions_are_not_listed_again(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    ids = [deliver(store, MESSAGE, mailbox) for _ in range(2)]
    with start_daemon() as endpoints:
        client, reply = login(endpoints.pop3_port, mailbox)
        assert reply.startswith(b"+OK")
        assert _uids(client) == ids
        assert client.command("DELE 1").startswith(b"+OK")
        assert client.command("QUIT").startswith(b"+OK")
        client.close()
        assert uidl(endpoints.pop3_port, mailbox) == [ids[1]]


def test_a_release_from_quarantine_is_listed_at_the_next_login(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    """The API's and the CLI's release changes the maildrop without a session."""
    with start_daemon() as endpoints:
        assert uidl(endpoints.pop3_port, mailbox) == []
        data = MESSAGE + b"x" * (41 * 1024 * 1024)  # over SES's 40 MiB: quarantined
        key = store.put_incoming("big", data)
        result = ingest(
            store, message_id="big", object_key=key, recipients=[mailbox], arrived_at=now_ms()
        )
        assert result.quarantined == (mailbox,)
        assert uidl(endpoints.pop3_port, mailbox) == []
        assert store.release_quarantined(mailbox, "big") is not None
        assert uidl(endpoints.pop3_port, mailbox) == ["big"]


def test_a_mailbox_removed_and_made_again_never_shows_the_old_ones_listing(
    start_daemon: StartDaemon, store: Store, mailbox: str
) -> None:
    old = deliver(store, MESSAGE, mailbox)
    with start_daemon() as endpoints:
        assert uidl(endpoints.pop3_port, mailbox) == [old]
        store.remove_mailbox(mailbox)
        store.create_mailbox(mailbox, hash_password(PASSWORD))
        assert uidl(endpoints.pop3_port, mailbox) == []


def test_with_the_cache_off_every_login_reads_the_listing(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    deliver(store, MESSAGE, mailbox)
    with start_daemon(listing_cache_entries=0) as endpoints:
        aws_calls.clear()
        uidl(endpoints.pop3_port, mailbox)
        uidl(endpoints.pop3_port, mailbox)
        operations = Counter(call.operation for call in aws_calls)
        assert operations["Query"] == 2
        assert operations["GetItem"] == 2  # the credentials only: no version read
