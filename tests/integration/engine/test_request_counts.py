"""AWS requests per POP3 operation, counted at botocore through the daemon (DESIGN: cost is a
feature). Login: two profile reads and a lease write, plus, unless the listing is the one this
daemon read last (`popd.listing_cache`), one Query page per 1 MB of listing; RETR: one GET, and
read-ahead only while the client reads in order (in order, reverse, sparse, a jump); TOP: one ranged
GET, none for a prefetched message; QUIT with N deletions: O(N/25) DynamoDB and O(N/1000) S3
requests."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from popd.reader import READ_AHEAD_MESSAGES
from popdrop.auth.apop import apop_digest
from popdrop.model import MessageEntry, Summary
from popdrop.store import Store
from popdrop.store import codec as store_codec
from tests.conftest import AwsCall, AwsClients
from tests.support import RawClient, deliver, unstuff

from .conftest import StartDaemon, login

MESSAGE = b"From: a@example.test\r\nSubject: hi\r\n\r\n" + b"line of the body\r\n" * 40
DYNAMODB = {"GetItem", "UpdateItem", "Query", "TransactWriteItems", "BatchGetItem"}
S3 = {"GetObject", "DeleteObjects"}


@contextmanager
def logged_in(start_daemon: StartDaemon, **settings: Any) -> Iterator[RawClient]:
    """A daemon with these settings and a session logged in to it, which QUITs at the end."""
    with start_daemon(**settings) as endpoints:
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        yield client
        client.command("QUIT")
        client.close()


def operations(calls: list[AwsCall]) -> Counter[str]:
    return Counter(call.operation for call in calls)


def test_login_costs_two_profile_reads_a_lease_write_and_a_query_unless_unchanged(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """The credentials, then (lease taken) the listing version; the listing only when this
    daemon has not read it at that version. QUIT releases the lease (one more UpdateItem)."""
    for _ in range(3):
        deliver(store, MESSAGE, mailbox)
    with start_daemon() as endpoints:
        for expected in (
            Counter(GetItem=2, UpdateItem=1, Query=1),
            Counter(GetItem=2, UpdateItem=1),
        ):
            aws_calls.clear()
            client, reply = login(endpoints.pop3_port)
            assert reply.startswith(b"+OK")
            assert operations(aws_calls) == expected
            assert client.command("STAT") == b"+OK 3 %d\r\n" % (3 * len(MESSAGE))
            client.command("QUIT")
            client.close()


def test_an_apop_login_costs_the_same_as_a_password_login_rfc1939_s7(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """The profile and its APOP secret come from one GetItem."""
    store.set_apop_secret(mailbox, "tanstaaf")
    with start_daemon(apop=True) as endpoints:
        aws_calls.clear()
        client = RawClient(endpoints.pop3_port)
        timestamp = client.line().decode().split()[-1]
        digest = apop_digest(timestamp, "tanstaaf")
        assert client.command(f"APOP {mailbox} {digest}").startswith(b"+OK")
        assert operations(aws_calls) == Counter(GetItem=2, UpdateItem=1, Query=1)
        client.command("QUIT")
        client.close()


def test_login_adds_one_query_page_per_megabyte_of_listing(
    start_daemon: StartDaemon,
    store: Store,
    mailbox: str,
    aws_clients: AwsClients,
    aws_calls: list[AwsCall],
) -> None:
    """DynamoDB returns at most 1 MB per Query page; entries are written directly, each holding
    its details as entries did before markers held them (2.5 KB each, large summaries), so the
    listing spans several pages quickly."""
    key = store.put_incoming("shared", MESSAGE)
    summary = Summary(subject="s" * 500, sender="f" * 500, to="t" * 500, message_id="m" * 500)
    entries = [
        MessageEntry(mailbox, f"u{i:05d}", key, len(MESSAGE), 38, 1_700_000_000_000 + i, summary)
        for i in range(1000)
    ]
    items = [{**store_codec.entry_item(e), **store_codec.details_item(e)} for e in entries]
    for start in range(0, len(items), 25):
        aws_clients.dynamodb.batch_write_item(
            RequestItems={
                store.table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            }
        )
    listing_bytes = sum(_item_size(item) for item in items)
    with start_daemon() as endpoints:
        aws_calls.clear()
        client, reply = login(endpoints.pop3_port)
        assert reply.startswith(b"+OK")
        assert client.command("STAT").startswith(b"+OK 1000 ")
        pages = math.ceil(listing_bytes / 2**20)
        assert pages >= 2
        assert operations(aws_calls) == Counter(GetItem=2, UpdateItem=1, Query=pages)
        client.command("QUIT")
        client.close()


def test_retr_costs_one_get_and_stat_list_uidl_none(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    deliver(store, MESSAGE, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        for command in ("STAT", "LIST", "UIDL"):
            assert client.command(command).startswith(b"+OK")
            if command != "STAT":
                client.multiline()
        assert aws_calls == []
        assert client.command("RETR 1").startswith(b"+OK")
        assert unstuff(client.multiline()) == MESSAGE
        assert operations(aws_calls) == Counter(GetObject=1)
        assert "Range" not in aws_calls[0].headers


def retr(client: RawClient, number: int) -> bytes:
    assert client.command(f"RETR {number}").startswith(b"+OK")
    return unstuff(client.multiline())


def gets(calls: list[AwsCall]) -> int:
    return operations(calls)["GetObject"]


def test_retr_1_alone_costs_one_get_with_read_ahead_on(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """Issue 13: a client that reads one message pays for one; nothing says which comes next."""
    for _ in range(3):
        deliver(store, MESSAGE, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        assert retr(client, 1) == MESSAGE
        assert client.command("NOOP").startswith(b"+OK")
        assert operations(aws_calls) == Counter(GetObject=1)


def test_in_order_reading_is_read_ahead_and_costs_one_get_per_message(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """The window opens as RETRs follow each other (0, 1, 2, 4 messages ahead): after RETR 4 the
    last four messages are in flight, and their RETRs cost no further GET."""
    bodies = [MESSAGE.replace(b"hi", f"#{i}".encode()) for i in range(8)]
    for body in bodies:
        deliver(store, body, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        for number in range(1, 5):
            assert retr(client, number) == bodies[number - 1]
        _wait_for(lambda: gets(aws_calls) == 8)
        for number in range(5, 9):
            assert retr(client, number) == bodies[number - 1]
        assert client.command("NOOP").startswith(b"+OK")
        assert operations(aws_calls) == Counter(GetObject=8)


def test_read_ahead_keeps_at_most_its_window_of_messages_in_flight(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """However long the client reads in order, at most READ_AHEAD_MESSAGES are fetched ahead: a
    session never fetches the whole maildrop on speculation."""
    for _ in range(READ_AHEAD_MESSAGES + 12):
        deliver(store, MESSAGE, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        for number in range(1, 7):  # the window: 0, 1, 2, 4, 8, 16
            retr(client, number)
        _wait_for(lambda: gets(aws_calls) == 6 + READ_AHEAD_MESSAGES)
        assert client.command("NOOP").startswith(b"+OK")
        assert gets(aws_calls) == 6 + READ_AHEAD_MESSAGES


@pytest.mark.parametrize("order", [[6, 5, 4, 3, 2, 1], [1, 4, 7, 10]], ids=["reverse", "sparse"])
def test_reverse_and_sparse_reading_costs_one_get_per_retr(
    start_daemon: StartDaemon,
    store: Store,
    mailbox: str,
    aws_calls: list[AwsCall],
    order: list[int],
) -> None:
    for _ in range(10):
        deliver(store, MESSAGE, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        for number in order:
            assert retr(client, number) == MESSAGE
        assert client.command("NOOP").startswith(b"+OK")
        assert operations(aws_calls) == Counter(GetObject=len(order))


def test_a_jump_drops_the_read_ahead_and_starts_none(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """After RETR 1-4 the messages 5-8 are in flight; RETR 20 makes them useless: they are dropped,
    and no message after 20 is fetched until the client reads on in order."""
    for _ in range(30):
        deliver(store, MESSAGE, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        for number in range(1, 5):
            retr(client, number)
        _wait_for(lambda: gets(aws_calls) == 8)
        retr(client, 20)
        assert client.command("NOOP").startswith(b"+OK")
        assert gets(aws_calls) == 9
        retr(client, 21)  # in order again: one message ahead
        _wait_for(lambda: gets(aws_calls) == 11)
        assert retr(client, 22) == MESSAGE  # fetched ahead: no GET of its own; two more ahead
        _wait_for(lambda: gets(aws_calls) == 13)
        assert client.command("NOOP").startswith(b"+OK")
        assert gets(aws_calls) == 13


def test_top_of_a_prefetched_message_and_its_retr_share_one_get_rfc1939_s7(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    bodies = [MESSAGE.replace(b"hi", f"#{i}".encode()) for i in range(3)]
    for body in bodies:
        deliver(store, body, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        retr(client, 1)
        retr(client, 2)  # message 3 is fetched ahead
        _wait_for(lambda: gets(aws_calls) == 3)
        assert client.command("TOP 3 2").startswith(b"+OK")
        header, _, lines = unstuff(client.multiline()).partition(b"\r\n\r\n")
        assert (header, lines) == (bodies[2].partition(b"\r\n\r\n")[0], b"line of the body\r\n" * 2)
        assert retr(client, 3) == bodies[2]
        assert client.command("NOOP").startswith(b"+OK")
        assert operations(aws_calls) == Counter(GetObject=3)


def test_read_ahead_off_fetches_nothing_before_it_is_asked(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    """POPDROP_READ_AHEAD_BYTES=0: no memory spent on the next message."""
    for _ in range(2):
        deliver(store, MESSAGE, mailbox)
    with logged_in(start_daemon, read_ahead_bytes=0) as client:
        aws_calls.clear()
        assert client.command("RETR 1").startswith(b"+OK")
        client.multiline()
        assert client.command("NOOP").startswith(b"+OK")  # the daemon is idle again
        assert operations(aws_calls) == Counter(GetObject=1)


def test_top_costs_one_ranged_get_rfc1939_s7(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    deliver(store, MESSAGE + b"x" * 200_000 + b"\r\n", mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        assert client.command("TOP 1 3").startswith(b"+OK")
        _, _, body = unstuff(client.multiline()).partition(b"\r\n\r\n")
        assert body == b"line of the body\r\n" * 3
        assert operations(aws_calls) == Counter(GetObject=1)
        first, _, last = aws_calls[0].headers["Range"].removeprefix("bytes=").partition("-")
        assert first == "0" and int(last) < 10_000


def test_top_extends_its_range_only_when_the_lines_need_more(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    long_lines = b"Subject: wide\r\n\r\n" + (b"y" * 990 + b"\r\n") * 20
    deliver(store, long_lines, mailbox)
    with logged_in(start_daemon) as client:
        aws_calls.clear()
        assert client.command("TOP 1 10").startswith(b"+OK")
        assert unstuff(client.multiline()) == long_lines[: 17 + 992 * 10]
        gets = [call for call in aws_calls if call.operation == "GetObject"]
        assert 2 <= len(gets) <= 3
        assert all("Range" in call.headers for call in gets)


def test_quit_with_n_deletions_costs_n_over_25_dynamodb_and_n_over_1000_s3_requests(
    start_daemon: StartDaemon, store: Store, mailbox: str, aws_calls: list[AwsCall]
) -> None:
    deletions = 60
    for _ in range(deletions):
        deliver(store, MESSAGE, mailbox)
    with start_daemon() as endpoints:
        client, _ = login(endpoints.pop3_port)
        for number in range(1, deletions + 1):
            client.send(f"DELE {number}\r\n".encode())  # RFC 2449 PIPELINING
        for _ in range(deletions):
            assert client.line().startswith(b"+OK")
        aws_calls.clear()
        assert client.command("QUIT").startswith(b"+OK")  # committed and released by now
        counts = operations(aws_calls)
        client.close()
    dynamodb = sum(n for op, n in counts.items() if op in DYNAMODB)
    s3 = sum(n for op, n in counts.items() if op in S3)
    # The lease's release; 49 entries per transaction (each with the lease's fencing check);
    # reference counts read and released 100 per request; objects deleted 1000 per request.
    assert counts == Counter(
        UpdateItem=1,
        TransactWriteItems=math.ceil(deletions / 49) + math.ceil(deletions / 100),
        BatchGetItem=math.ceil(deletions / 100),
        DeleteObjects=math.ceil(deletions / 1000),
    )
    # O(N/25): N/49 + 2 N/100 requests, plus the release and three roundings up.
    assert dynamodb <= deletions / 25 + 4
    assert s3 == math.ceil(deletions / 1000)
    assert store.list_messages(mailbox) == ()


def _item_size(item: store_codec.Item) -> int:
    """DynamoDB's item size: attribute names plus values (strings and numbers by length)."""
    return sum(len(name) + len(str(value)) for name, value in item.items())


def _wait_for(condition: object) -> None:
    assert callable(condition)
    for _ in range(200):  # 10 s at most
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the read-ahead never started")
