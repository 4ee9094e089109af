"""Store test helpers: a mailbox, a way to file a message, and AWS faults injected at the wire."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from popdrop.model import MessageEntry, Summary
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
    """Store an object (unless `object_key` names one) and add an entry for it to `mailbox`."""
    clock = itertools.count(1_700_000_000_000, 1000)

    def file(
        mailbox: str,
        uid: str,
        *,
        data: bytes = MESSAGE,
        object_key: str | None = None,
        arrived_at: int | None = None,
    ) -> MessageEntry:
        key = object_key or store.put_incoming(uid, data)
        entry = MessageEntry(
            mailbox=mailbox,
            uid=uid,
            object_key=key,
            size=len(data),
            header_size=data.index(b"\r\n\r\n") + 4,
            arrived_at=next(clock) if arrived_at is None else arrived_at,
            summary=Summary(subject="hello"),
        )
        assert store.add_message(entry)
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
