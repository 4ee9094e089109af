"""Fault injection for ingest tests: make the store's Nth call of an operation fail, as a crash
(or a lost connection) at that point would, by raising from botocore's `before-call` hook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import AwsClients


class Crash(Exception):
    """The process died here: nothing after this call ran."""


CrashAt = Callable[[str, int], None]


@pytest.fixture
def crash_at(aws_clients: AwsClients) -> Iterator[CrashAt]:
    """`crash_at("TransactWriteItems", 3)`: the third such call from now on raises Crash (once)."""
    registered: list[tuple[Any, Callable[..., None]]] = []

    def arm(operation: str, nth: int) -> None:
        seen = [0]

        def hook(model: Any, **_: Any) -> None:
            if model.name == operation:
                seen[0] += 1
                if seen[0] == nth:
                    raise Crash(f"{operation} #{nth}")

        for client in aws_clients:
            client.meta.events.register("before-call.*.*", hook)
            registered.append((client, hook))

    yield arm
    for client, hook in registered:
        client.meta.events.unregister("before-call.*.*", hook)
