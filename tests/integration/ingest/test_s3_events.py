"""Issue 6, "Triggers": S3 `ObjectCreated` notifications (and their EventBridge form) on the
incoming prefix; recipients from Delivered-To / X-Original-To / To / Cc, verdicts from the
headers SES writes, through the Lambda handler that also serves SES events."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from functions.ingest import app
from popdrop.events import ses_event
from popdrop.ingest import ingest_event
from popdrop.settings import get_settings
from popdrop.store import Store
from tests.support import eventbridge_s3_event, s3_event

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
CONTEXT = SimpleNamespace(aws_request_id="req-1")


@pytest.fixture(autouse=True)
def mailboxes(store: Store) -> Iterator[None]:
    for address in (ALICE, BOB, CAROL):
        store.create_mailbox(address, "hash")
    get_settings.cache_clear()
    app.store.cache_clear()
    yield
    app.store.cache_clear()
    get_settings.cache_clear()


def put(store: Store, message_id: str, headers: bytes) -> dict[str, object]:
    data = headers + b"\r\nbody\r\n"
    key = store.put_incoming(message_id, data)
    return s3_event(store.bucket, key, len(data), timestamp_ms=1_709_294_400_250)


def test_recipients_come_from_the_recipient_headers_matched_against_mailboxes(
    store: Store,
) -> None:
    event = put(
        store,
        "m1",
        b"Delivered-To: Alice@example.test\r\nX-Original-To: bob@example.test\r\n"
        b"To: Someone <someone@elsewhere.test>\r\nCc: carol@example.test\r\n",
    )

    [result] = ingest_event(store, event)

    assert result.delivered == (ALICE, BOB, CAROL)
    assert result.unknown == ("someone@elsewhere.test",)
    assert store.list_messages(ALICE)[0].arrived_at == 1_709_294_400_250


def test_ses_verdict_headers_drive_the_policy_and_only_the_first_copy_counts(
    store: Store,
) -> None:
    event = put(
        store,
        "m1",
        b"X-SES-Spam-Verdict: FAIL\r\nX-SES-Virus-Verdict: PASS\r\n"
        b"Authentication-Results: amazonses.com; spf=pass; dkim=fail; dmarc=pass\r\n"
        b"To: alice@example.test\r\nX-SES-Spam-Verdict: PASS\r\n",
    )

    [result] = ingest_event(store, event)

    assert result.quarantined == (ALICE,)
    [held] = store.list_quarantined(ALICE)
    assert (held.reason, held.entry.verdicts.dkim, held.entry.verdicts.spf) == (
        "spam=FAIL",
        "FAIL",
        "PASS",
    )


def test_an_eventbridge_object_created_event_is_read_the_same_way(store: Store) -> None:
    """template.yaml routes S3's events through EventBridge when IngestTrigger=s3."""
    store.put_incoming("m1", b"To: bob@example.test\r\n\r\nbody\r\n")
    event = eventbridge_s3_event(store.bucket, "incoming/m1", 30, timestamp_ms=5)

    [result] = ingest_event(store, event)

    assert result.delivered == (BOB,)


def test_an_object_of_another_bucket_or_prefix_is_skipped(store: Store) -> None:
    assert ingest_event(store, s3_event("other-bucket", "incoming/m1", 1, timestamp_ms=1)) == []
    assert ingest_event(store, s3_event(store.bucket, "elsewhere/m1", 1, timestamp_ms=1)) == []


def test_the_handler_serves_s3_and_ses_events_alike(store: Store) -> None:
    s3 = put(store, "m1", b"To: alice@example.test\r\n")
    store.put_incoming("m2", b"Subject: x\r\n\r\ny\r\n")
    ses = ses_event("m2", [BOB], timestamp_ms=1)

    assert app.handler(s3, CONTEXT)["delivered"] == 1
    assert app.handler(ses, CONTEXT)["delivered"] == 1
    assert [len(store.list_messages(a)) for a in (ALICE, BOB)] == [1, 1]
