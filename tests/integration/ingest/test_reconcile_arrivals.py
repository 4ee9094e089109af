"""Issue 13, "Reconcile in O(new objects)": with an arrivals queue (S3 -> EventBridge -> SQS, as
template.yaml deploys it) the reconcile sweep reads what arrived since its last run, never the
listing of what is kept, and still finds every object whose event was lost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event
from popdrop.ingest.pipeline import IngestResult
from popdrop.ingest.reconcile import reconcile
from popdrop.logfmt import now_ms
from popdrop.store import Store
from popdrop.store.arrivals import Arrivals
from tests.conftest import AwsClients, made_store
from tests.integration.ingest.test_reconcile import run_scheduled_sweep

ALICE = "alice@example.test"
MESSAGE = b"To: alice@example.test\r\n\r\nhello\r\n"
QUEUE = "popdrop-arrivals"
LATER = now_ms() + 3600_000  # every object is past the grace period


class Queue:
    """The arrivals queue seen from outside: its clients, its depth, the calls made to it."""

    def __init__(self) -> None:
        self.sqs = boto3.client("sqs")
        self.events = boto3.client("events")
        self.calls: list[str] = []
        self.sqs.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def url(self) -> str:
        return str(self.sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"])

    def depth(self) -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url(),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )


@pytest.fixture
def queue(moto: str) -> Queue:
    return Queue()


@pytest.fixture
def store(aws_clients: AwsClients, queue: Queue) -> Store:
    """The store with an arrivals queue, made as `popdrop dev` makes it (bucket notifications to
    EventBridge, a rule for the incoming prefix, the queue as its target)."""
    store = made_store(aws_clients, Arrivals(queue.sqs, queue.events, QUEUE))
    store.create_mailbox(ALICE, "hash")
    return store


@pytest.fixture
def dynamodb_calls(aws_clients: AwsClients) -> Iterator[list[str]]:
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    for client in aws_clients:
        client.meta.events.register("before-call.*.*", record)
    yield calls
    for client in aws_clients:
        client.meta.events.unregister("before-call.*.*", record)


def _until(check: Callable[[], list[IngestResult]], seconds: float = 30) -> list[IngestResult]:
    """Run `check` until it ingests something (each empty run long-polls the queue a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ingested = check()
        if ingested:
            return ingested
    raise AssertionError(f"nothing was ingested in {seconds} s")


def test_an_object_whose_event_was_lost_is_ingested_from_its_arrival(
    store: Store, queue: Queue
) -> None:
    store.put_incoming("lost", MESSAGE)  # stored; no SES event ever ingests it

    report = reconcile(store, now_ms=LATER)

    assert (report.source, report.received, report.scanned) == ("arrivals", 1, 1)
    assert [result.delivered for result in report.ingested] == [(ALICE,)]
    assert [entry.uid for entry in store.list_messages(ALICE)] == ["lost"]
    assert queue.depth() == (0, 0)


def test_a_run_with_nothing_new_is_one_request_however_much_is_kept(
    store: Store, queue: Queue, dynamodb_calls: list[str]
) -> None:
    """The issue's target: reconcile on kept messages with nothing to do costs at most 10
    requests. Here it is one ReceiveMessage: no listing, no ingest record read, no checkpoint."""
    for n in range(120):
        store.put_incoming(f"kept{n}", MESSAGE)
        ingest_ses_event(store, ses_event(f"kept{n}", [ALICE], timestamp_ms=now_ms()))
    first = reconcile(store, now_ms=LATER)  # settles the 120 arrivals: each was handled
    assert (first.received, first.handled, first.ingested) == (120, 120, [])
    queue.calls.clear()
    dynamodb_calls.clear()

    report = reconcile(store, now_ms=LATER + 1800_000)

    assert (report.received, report.scanned) == (0, 0)
    assert queue.calls == ["ReceiveMessage"]
    assert dynamodb_calls == []  # no S3 listing, no DynamoDB read
    assert len(store.list_messages(ALICE)) == 120


def test_an_arrival_inside_its_grace_period_waits_and_comes_back_when_due(
    store: Store, queue: Queue
) -> None:
    store.put_incoming("new", MESSAGE)

    young = reconcile(store, now_ms=now_ms(), grace_seconds=3)

    assert (young.recent, young.ingested) == (1, [])
    assert queue.depth() == (0, 1)  # deferred, not deleted
    assert "ChangeMessageVisibilityBatch" in queue.calls
    due = _until(lambda: reconcile(store, now_ms=now_ms(), grace_seconds=3).ingested)
    assert [result.message_id for result in due] == ["new"]
    assert queue.depth() == (0, 0)


def test_a_message_that_is_not_an_object_of_the_prefix_is_logged_and_dropped(
    store: Store, queue: Queue
) -> None:
    """Bad input loses nothing: such a message is no object of this bucket's incoming prefix."""
    queue.sqs.send_message(QueueUrl=queue.url(), MessageBody="not json")
    queue.sqs.send_message(QueueUrl=queue.url(), MessageBody="[1, 2]")  # JSON, not an object
    queue.sqs.send_message(QueueUrl=queue.url(), MessageBody=json.dumps({"source": "aws.s3"}))
    other = json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "time": "2026-12-04T16:00:00Z",
            "detail": {"bucket": {"name": "someone-else"}, "object": {"key": "incoming/x"}},
        }
    )
    queue.sqs.send_message(QueueUrl=queue.url(), MessageBody=other)

    report = reconcile(store, now_ms=LATER)

    assert (report.received, report.skipped, report.scanned) == (4, 4, 0)
    assert queue.depth() == (0, 0)


def test_an_object_deleted_before_it_was_filed_is_reported_gone(
    store: Store, aws_clients: AwsClients, queue: Queue
) -> None:
    key = store.put_incoming("deleted", MESSAGE)
    aws_clients.s3.delete_object(Bucket=store.bucket, Key=key)

    report = reconcile(store, now_ms=LATER)

    assert (report.gone, report.ingested, report.failed) == (1, [], [])
    assert queue.depth() == (0, 0)


def test_an_ingest_that_fails_is_tried_again_at_the_next_run(
    store: Store, aws_clients: AwsClients, queue: Queue
) -> None:
    store.put_incoming("flaky", MESSAGE)
    failures = [1]

    def fail_once(model: Any, **_: Any) -> None:
        if model.name == "GetItem" and failures:
            failures.pop()
            raise ClientError({"Error": {"Code": "InternalError"}}, "GetItem")

    aws_clients.dynamodb.meta.events.register("before-call.*.*", fail_once)
    failed = reconcile(store, now_ms=LATER)
    aws_clients.dynamodb.meta.events.unregister("before-call.*.*", fail_once)

    assert [key for key, _ in failed.failed] == ["incoming/flaky"]
    assert queue.depth() == (1, 0)  # shown again at once, for the next run
    again = reconcile(store, now_ms=LATER)
    assert [result.message_id for result in again.ingested] == ["flaky"]
    assert queue.depth() == (0, 0)


def test_the_sweep_stops_at_its_limit_and_the_next_run_goes_on(store: Store, queue: Queue) -> None:
    for n in range(3):
        store.put_incoming(f"m{n}", MESSAGE)

    first = reconcile(store, now_ms=LATER, limit=1)
    rest = reconcile(store, now_ms=LATER)

    assert first.truncated and len(first.ingested) >= 1
    assert len(first.ingested) + len(rest.ingested) == 3
    assert len(store.list_messages(ALICE)) == 3


def test_a_run_receives_at_most_ten_arrivals_per_object_it_may_ingest(
    store: Store, queue: Queue
) -> None:
    """Arrivals already handled cost little each, but not nothing: after an outage a run settles
    a bounded share and says `truncated`, so it ends inside the function's timeout."""
    for n in range(12):
        store.put_incoming(f"kept{n}", MESSAGE)
        ingest_ses_event(store, ses_event(f"kept{n}", [ALICE], timestamp_ms=now_ms()))

    first = reconcile(store, now_ms=LATER, limit=1)
    rest = reconcile(store, now_ms=LATER, limit=1)

    assert (first.received, first.handled, first.truncated) == (10, 10, True)
    assert (rest.received, rest.handled, rest.truncated) == (2, 2, False)
    assert queue.depth() == (0, 0)


def test_a_full_sweep_lists_the_prefix_and_leaves_the_queue(store: Store, queue: Queue) -> None:
    store.put_incoming("lost", MESSAGE)

    report = reconcile(store, now_ms=LATER, full=True)

    assert (report.source, report.received) == ("listing", 0)
    assert [result.message_id for result in report.ingested] == ["lost"]
    assert queue.depth() == (1, 0)  # the next run settles it: handled


def test_the_scheduled_function_reads_the_queue_it_is_given_by_name(
    store: Store, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """template.yaml gives the function the queue's URL; a name (what an operator types) is
    resolved once."""
    monkeypatch.setenv("POPDROP_RECONCILE_GRACE_SECONDS", "0")
    monkeypatch.setenv("POPDROP_ARRIVALS_QUEUE", QUEUE)
    store.put_incoming("lost", MESSAGE)

    report = run_scheduled_sweep()

    assert (report["source"], report["ingested"]) == ("arrivals", ["lost"])
    assert [entry.uid for entry in store.list_messages(ALICE)] == ["lost"]
