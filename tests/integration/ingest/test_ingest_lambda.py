"""The ingest Lambda handler, called as a plain function with SES-shaped events (moto cannot run
Lambda without Docker)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from functions.ingest import app
from popdrop.events import InvalidEvent, ses_event
from popdrop.settings import get_settings
from popdrop.store import Store
from tests.support import shown

ALICE = "alice@example.test"
CONTEXT = SimpleNamespace(aws_request_id="req-1", function_name="popdrop-ingest")


@pytest.fixture(autouse=True)
def fresh_handler() -> Iterator[None]:
    """The handler caches its settings and store per execution environment, and configures
    logging: give each test its own, built from the environment the `store` fixture uses, and
    leave the root logger as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    get_settings.cache_clear()
    app.store.cache_clear()
    yield
    app.store.cache_clear()
    get_settings.cache_clear()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_handler_files_an_ses_event_and_returns_a_summary(store: Store) -> None:
    store.create_mailbox(ALICE, "hash")
    store.put_incoming("msg-1", b"Subject: hi\r\n\r\nhello\r\n")
    event = ses_event("msg-1", [ALICE, "nobody@example.test"], timestamp_ms=1_709_294_400_250)

    summary = app.handler(event, CONTEXT)

    assert summary == {
        "message_ids": ["msg-1"],
        "delivered": 1,
        "duplicate": 0,
        "unknown": 1,
        "quarantined": 0,
        "dropped": 0,
    }
    [entry] = shown(store, ALICE)
    assert (entry.uid, entry.summary.subject) == ("msg-1", "hi")


def test_the_handler_treats_a_retried_event_as_already_done(store: Store) -> None:
    """DESIGN invariant 1: Lambda retries an asynchronous invocation that failed."""
    store.create_mailbox(ALICE, "hash")
    store.put_incoming("msg-1", b"Subject: hi\r\n\r\nhello\r\n")
    event = ses_event("msg-1", [ALICE], timestamp_ms=1_709_294_400_250)
    app.handler(event, CONTEXT)

    assert app.handler(event, CONTEXT)["duplicate"] == 1
    assert len(store.list_messages(ALICE)) == 1


def test_a_malformed_event_is_logged_and_raised_so_lambda_keeps_it(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="popdrop.functions.ingest")

    with pytest.raises(InvalidEvent, match="receipt: missing"):
        app.handler({"Records": [{"eventSource": "aws:ses", "ses": {"mail": {}}}]}, CONTEXT)

    [record] = caplog.records
    assert record.getMessage() == "ingest.invalid_event"
    assert record.fields["request_id"] == "req-1"
    assert "Records[0].ses.receipt: missing" in record.fields["error"]
