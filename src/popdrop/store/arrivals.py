"""The arrivals queue: one SQS message per object stored under the incoming prefix, so that the
reconcile sweep reads what arrived since its last run instead of listing every object kept.

S3 sends every `Object Created` event of the bucket to EventBridge; a rule sends those under the
incoming prefix to the queue (template.yaml; `create` below for the local stack). The sweep
receives them, settles (deletes) those it handled and defers the others: an object still inside
its grace period, or one whose ingest failed, is made visible again when it is due.

A message received and not settled (the sweep died) comes back after RECEIVE_VISIBILITY; one that
keeps coming back is moved to the queue's dead-letter queue by its redrive policy (template.yaml),
whose alarm tells the operator. Nothing is lost either way: the object stays in S3, and
`popdrop reconcile --full` lists every object.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from popdrop.faces.ingest import Arrival
from popdrop.store.aws import aws_errors, batched

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

RECEIVE_BATCH: Final = 10  # SQS's most messages per ReceiveMessage, and per batch call
# Longer than a reconcile run may last (the Lambda's 900 s timeout), so that a run never receives
# its own messages twice; a run that dies leaves them to come back after it.
RECEIVE_VISIBILITY: Final = 1200
MAX_VISIBILITY: Final = 12 * 3600  # SQS's ceiling for a message's visibility timeout
# A long poll of one second asks every SQS server, where a short poll asks a sample and may answer
# "empty" while messages wait (SQS developer guide, "Short and long polling").
WAIT_SECONDS: Final = 1
RULE: Final = "popdrop-arrivals"  # the local stack's EventBridge rule


class Arrivals:
    def __init__(self, sqs: SQSClient, events: EventBridgeClient, queue: str) -> None:
        """`queue`: the queue's URL, or its name (resolved by one GetQueueUrl, once); `events`
        serves `create` only."""
        self._sqs = sqs
        self._events = events
        self._queue = queue
        self._url = queue if queue.startswith(("https://", "http://")) else ""
        self._lock = threading.Lock()

    def receive(self) -> list[Arrival]:
        """Up to RECEIVE_BATCH messages, hidden from other receivers for RECEIVE_VISIBILITY."""
        with aws_errors():
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url(),
                MaxNumberOfMessages=RECEIVE_BATCH,
                VisibilityTimeout=RECEIVE_VISIBILITY,
                WaitTimeSeconds=WAIT_SECONDS,
            )
        return [
            Arrival(message["ReceiptHandle"], message.get("Body", ""))
            for message in response.get("Messages", [])
        ]

    def settle(self, receipts: Sequence[str]) -> None:
        """Delete handled messages. A failed entry is left to come back and be handled again,
        which every step of the sweep allows."""
        url = self._queue_url()
        for batch in batched(receipts, RECEIVE_BATCH):
            with aws_errors():
                self._sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": receipt} for n, receipt in enumerate(batch)
                    ],
                )

    def defer(self, due: Sequence[tuple[str, int]]) -> None:
        """Make each message visible again after its seconds (capped at SQS's ceiling)."""
        url = self._queue_url()
        for batch in batched(due, RECEIVE_BATCH):
            with aws_errors():
                self._sqs.change_message_visibility_batch(
                    QueueUrl=url,
                    Entries=[
                        {
                            "Id": str(n),
                            "ReceiptHandle": receipt,
                            "VisibilityTimeout": max(0, min(seconds, MAX_VISIBILITY)),
                        }
                        for n, (receipt, seconds) in enumerate(batch)
                    ],
                )

    def create(self, s3: S3Client, *, bucket: str, prefix: str) -> None:
        """The local stack's queue, the bucket's EventBridge notifications and the rule between
        them, idempotently (template.yaml deploys the same in AWS, with the queue's delay and
        dead-letter queue)."""
        sqs, events = self._sqs, self._events
        with aws_errors():
            self._url = sqs.create_queue(QueueName=self._queue.rsplit("/", 1)[-1])["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
            events.put_rule(Name=RULE, EventPattern=json.dumps(event_pattern(bucket, prefix)))
            queue_arn = arn["Attributes"]["QueueArn"]
            events.put_targets(Rule=RULE, Targets=[{"Id": "arrivals", "Arn": queue_arn}])

    def _queue_url(self) -> str:
        with self._lock:
            if not self._url:
                with aws_errors():
                    self._url = self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"]
            return self._url


def event_pattern(bucket: str, prefix: str) -> dict[str, object]:
    """S3's `Object Created` events for objects under the incoming prefix (template.yaml's
    ArrivalsRule has the same pattern)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}},
    }
