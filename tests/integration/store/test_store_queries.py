"""Reading many items: BatchGetItem's unprocessed keys are asked for again under one rule, for
every reader (ingest's lookup, a commit's and gc's reference counts), and the paginated Query."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from popdrop.faces.faults import CleanupPending, StorageUnavailable
from popdrop.store import Store, queries
from tests.conftest import AwsCall, AwsClients
from tests.support import take_lease

from .conftest import ALICE, BOB, FileMessage


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def unprocess(aws_clients: AwsClients, times: int) -> list[int]:
    """DynamoDB under load: the next `times` BatchGetItem requests come back with every key
    unprocessed (HTTP 200, as DynamoDB answers). Returns the keys handed back each time."""
    handed_back: list[int] = []

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        if len(handed_back) >= times:
            return None
        asked = json.loads(request.body)["RequestItems"]
        handed_back.append(sum(len(keys["Keys"]) for keys in asked.values()))
        body = json.dumps({"Responses": {}, "UnprocessedKeys": asked}).encode()
        return AWSResponse(request.url, 200, {}, _Body(body))

    aws_clients.dynamodb.meta.events.register_first("before-send.dynamodb.BatchGetItem", answer)
    return handed_back


def test_keys_handed_back_unprocessed_are_asked_for_again(
    store: Store, alice: str, bob: str, aws_clients: AwsClients, aws_calls: list[AwsCall]
) -> None:
    handed_back = unprocess(aws_clients, times=2)

    found = store.lookup([ALICE, BOB])

    assert found.mailboxes == {ALICE, BOB}
    assert [call.operation for call in aws_calls] == ["BatchGetItem"] * 3
    assert handed_back == [6, 6]  # each address's profile, policy and route


def test_keys_still_unprocessed_after_the_last_round_raise_storage_unavailable(
    store: Store, alice: str, file_message: FileMessage, aws_clients: AwsClients
) -> None:
    """The same rule for every reader: ingest's lookup, and a commit's reference counts (the
    entries are deleted; the objects wait for gc, as `CleanupPending` says)."""
    entry = file_message(alice, "m1")
    unprocess(aws_clients, times=queries.BATCH_GET_ROUNDS)
    with pytest.raises(StorageUnavailable, match="unprocessed"):
        store.lookup([ALICE])

    unprocess(aws_clients, times=queries.BATCH_GET_ROUNDS)
    lease = take_lease(store, alice, "session")
    assert lease is not None
    with pytest.raises(CleanupPending, match="unprocessed"):
        store.commit_deletions(lease, [entry])
    assert store.list_messages(alice) == ()
    assert store.collect_garbage(grace_seconds=3600).deleted == (entry.object_key,)
