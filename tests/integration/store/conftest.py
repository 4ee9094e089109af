"""Store test helpers: a mailbox, a way to file a message (the ingest pipeline, as production
does), and AWS faults injected at the wire."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from popdrop.ingest import ingest
from popdrop.model import MessageEntry
from popdrop.store import Store
from tests.integration.engine.faults import error_response

ALICE = "alice@example.test"
BOB = "bob@example.test"
MESSAGE = b"From: carol@example.test\r\nSubject: hello\r\n\r\nHi there.\r\n"

FileMessage = Callable[..., MessageEntry]
InjectFault = Callable[..., list[str]]


@pytest.fixture
def alice(store: Store) -> str:
    store.create_mailbox(ALICE, "hash-a")
    return ALICE


@pytest.fixture
def bob(store: Store) -> str:
    store.create_mailbox(BOB, "hash-b")
    return BOB


@pytest.fixture
def file_message(store: Store) -> FileMessage:
    """Deliver a message with the id (and so the unique id) `uid` through the ingest pipeline, as
    SES's event would, to `mailbox` and the mailboxes `also` (one object for them all); return
    `mailbox`'s entry."""
    clock = itertools.count(1_700_000_000_000, 1000)

    def file(
        mailbox: str,
        uid: str,
        *,
        data: bytes = MESSAGE,
        arrived_at: int | None = None,
        also: Sequence[str] = (),
    ) -> MessageEntry:
        key = store.put_incoming(uid, data)
        arrived = next(clock) if arrived_at is None else arrived_at
        result = ingest(
            store, message_id=uid, object_key=key, recipients=[mailbox, *also], arrived_at=arrived
        )
        assert result.delivered == (mailbox, *also)
        entry = store.get_message(mailbox, uid)
        assert entry is not None
        return entry

    return file


@pytest.fixture
def inject_fault() -> InjectFault:
    """Make a client's calls of `operation`, after the first `after`, fail `times` times with an
    AWS error `code` (a 400, which botocore does not retry), as if AWS had answered so. Returns
    the codes sent, to check."""

    def inject(
        client: Any,
        operation: str,
        code: str,
        *,
        times: int = 1,
        after: int = 0,
        body: dict[str, Any] | None = None,
    ) -> list[str]:
        sent: list[str] = []
        passed = itertools.count()
        service = client.meta.service_model.endpoint_prefix

        def fail(request: Any, **_: Any) -> AWSResponse | None:
            if next(passed) < after or len(sent) >= times:
                return None
            sent.append(code)
            return error_response(request.url, service, code, 400, **(body or {}))

        client.meta.events.register_first(f"before-send.{service}.{operation}", fail)
        return sent

    return inject
