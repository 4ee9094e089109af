"""Objects, resources and failures against moto: streamed and ranged reads (DESIGN invariant 4),
idempotent set-up, and AWS faults surfacing as the store's own errors."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import boto3
import pytest
from botocore.config import Config

from popdrop.faces.faults import ObjectNotFound, StorageUnavailable, StoreError
from popdrop.faces.pop3 import ObjectBody
from popdrop.settings import Settings
from popdrop.store import Store, schema
from tests.conftest import AwsCall, AwsClients
from tests.support import object_exists

from .conftest import ALICE, InjectFault

BIG = os.urandom(150_000)


def test_iter_object_streams_one_get_in_chunks_of_the_given_size(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    key = store.put_incoming("big", BIG)
    aws_calls.clear()

    chunks = list(store.iter_object(key, chunk_size=65536))

    assert [len(chunk) for chunk in chunks] == [65536, 65536, 150_000 - 2 * 65536]
    assert b"".join(chunks) == BIG
    assert [(call.operation, call.headers.get("Range")) for call in aws_calls] == [
        ("GetObject", None)
    ]


def read_all(body: ObjectBody) -> bytes:
    data = b""
    while chunk := body.read(300):
        data += chunk
    body.close()
    return data


def test_open_object_with_an_end_reads_only_that_range(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    """TOP fetches the header block plus some lines: a byte range, not the object."""
    key = store.put_incoming("big", BIG)
    aws_calls.clear()

    assert read_all(store.open_object(key, end=1000)) == BIG[:1000]
    assert read_all(store.open_object(key, start=1000, end=1010)) == BIG[1000:1010]
    assert [call.headers.get("Range") for call in aws_calls] == ["bytes=0-999", "bytes=1000-1009"]


def test_objects_are_requested_only_when_read_and_an_empty_range_not_at_all(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    key = store.put_incoming("big", BIG)
    aws_calls.clear()

    chunks = store.iter_object(key)
    assert aws_calls == []
    assert read_all(store.open_object(key, start=10, end=10)) == b""
    assert aws_calls == []
    chunks.close()


def test_reads_return_the_stored_bytes_exactly(store: Store) -> None:
    """DESIGN invariant 4: RETR's bytes are the stored bytes."""
    key = store.put_incoming("big", BIG)

    assert read_all(store.open_object(key)) == BIG
    assert read_all(store.open_object(key, end=10**9)) == BIG  # a range past the end: all of it
    assert read_all(store.open_object(key, start=len(BIG))) == b""  # S3's 416: nothing
    assert store.read_whole(key) == BIG


@pytest.mark.parametrize(
    "read",
    [
        lambda store: store.open_object("incoming/nothing"),
        lambda store: store.open_object("incoming/nothing", start=5),
        lambda store: store.read_head("incoming/nothing", 100),
        lambda store: store.read_tail("incoming/nothing", 2),
        lambda store: store.read_whole("incoming/nothing"),
        lambda store: next(store.iter_object("incoming/nothing")),
    ],
    ids=["open", "open-range", "head", "tail", "whole", "iter"],
)
def test_a_missing_object_raises_object_not_found_whichever_read(
    store: Store, read: Callable[[Store], object]
) -> None:
    assert not object_exists(store, "incoming/nothing")
    with pytest.raises(ObjectNotFound):
        read(store)


def test_read_head_is_one_ranged_get_with_the_total_size(
    store: Store, aws_calls: list[AwsCall]
) -> None:
    key = store.put_incoming("big", BIG)
    aws_calls.clear()

    assert store.read_head(key, 4096) == (BIG[:4096], len(BIG))
    assert [(call.operation, call.headers.get("Range")) for call in aws_calls] == [
        ("GetObject", "bytes=0-4095")
    ]


def test_read_head_and_tail_of_short_and_empty_objects(store: Store) -> None:
    short, empty = store.put_incoming("short", b"abc"), store.put_incoming("empty", b"")
    assert store.read_head(short, 4096) == (b"abc", 3)
    assert store.read_tail(short, 2) == b"bc"
    assert store.read_tail(short, 10) == b"abc"
    # S3 refuses any range of an empty object (416); that means zero octets.
    assert store.read_head(empty, 4096) == (b"", 0)
    assert store.read_tail(empty, 2) == b""


def test_read_tail_is_one_suffix_range_get(store: Store, aws_calls: list[AwsCall]) -> None:
    key = store.put_incoming("big", BIG)
    aws_calls.clear()

    assert store.read_tail(key, 2) == BIG[-2:]
    assert [call.headers.get("Range") for call in aws_calls] == ["bytes=-2"]


def test_put_incoming_writes_under_the_incoming_prefix(
    store: Store, aws_clients: AwsClients
) -> None:
    key = store.put_incoming("abc123", b"x\r\n")

    assert key == store.incoming_prefix + "abc123" == store.incoming_key("abc123")
    head = aws_clients.s3.head_object(Bucket=store.bucket, Key=key)
    assert head["ContentType"] == "message/rfc822"


def test_create_resources_is_idempotent_and_sets_encryption_and_ttl(
    store: Store, aws_clients: AwsClients
) -> None:
    store.create_resources()  # the fixture ran it once already

    encryption = aws_clients.s3.get_bucket_encryption(Bucket=store.bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ttl = aws_clients.dynamodb.describe_time_to_live(TableName=store.table)
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == schema.TTL_ATTRIBUTE


def test_from_settings_reaches_the_endpoint_in_aws_endpoint_url(moto: str) -> None:
    settings = Settings(table="popdrop-from-settings", bucket="popdrop-from-settings")
    store = Store.from_settings(settings)
    store.create_resources()

    store.create_mailbox(ALICE, "hash")

    assert [m.address for m in store.list_mailboxes()] == [ALICE]


@pytest.fixture
def unreachable() -> Store:
    """A store whose endpoint refuses connections (a port nothing listens on), one attempt."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2)
    endpoint = f"http://127.0.0.1:{port}"
    return Store(
        s3=boto3.client("s3", endpoint_url=endpoint, config=config),
        dynamodb=boto3.client("dynamodb", endpoint_url=endpoint, config=config),
        table="popdrop",
        bucket="popdrop-mail",
        incoming_prefix="incoming/",
    )


def test_an_unreachable_endpoint_raises_storage_unavailable(moto: str, unreachable: Store) -> None:
    """Callers answer -ERR [SYS/TEMP] (RFC 3206) without knowing botocore."""
    with pytest.raises(StorageUnavailable):
        unreachable.get_mailbox(ALICE)
    with pytest.raises(StorageUnavailable):
        unreachable.list_messages(ALICE)
    with pytest.raises(StorageUnavailable):
        next(unreachable.iter_object("incoming/x"))


def test_aws_faults_and_throttling_raise_storage_unavailable_others_store_error(
    store: Store, inject_fault: InjectFault
) -> None:
    """botocore retries throttles and 5xx itself (not here); what still fails is transient."""
    dynamodb = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    impatient = Store(
        s3=boto3.client("s3"),
        dynamodb=dynamodb,
        table=store.table,
        bucket=store.bucket,
        incoming_prefix=store.incoming_prefix,
    )
    for code in ["ThrottlingException", "ProvisionedThroughputExceededException"]:
        inject_fault(dynamodb, "GetItem", code)
        with pytest.raises(StorageUnavailable):
            impatient.get_mailbox(ALICE)

    inject_fault(dynamodb, "GetItem", "AccessDeniedException")
    with pytest.raises(StoreError) as raised:
        impatient.get_mailbox(ALICE)
    assert not isinstance(raised.value, StorageUnavailable)


def test_an_object_body_is_read_in_the_pieces_the_caller_asks_for(store: Store) -> None:
    key = store.put_incoming("big", BIG)

    body = store.open_object(key)
    pieces = [body.read(1000), body.read(100_000), body.read(100_000), body.read(10)]
    body.close()

    assert [len(piece) for piece in pieces] == [1000, 100_000, 49_000, 0]
    assert b"".join(pieces) == BIG
    empty = store.open_object(key, start=10, end=10)
    assert empty.read(10) == b""
    with pytest.raises(ValueError, match="positive"):
        empty.read(0)


def test_the_store_reads_objects_without_asking_for_response_checksums(moto: str) -> None:
    """popd's RETR path: botocore's default CRC check of whole-object reads cost 8% of the CPU
    per GB; the store's clients turn it off (docs/engine.md, "Streaming")."""
    store = Store.from_settings(Settings())
    store.create_resources()
    key = store.put_incoming("big", BIG)
    sent: list[dict[str, str]] = []
    store._s3.meta.events.register(  # the store's own client, as configured
        "before-call.s3.GetObject", lambda params, **_: sent.append(dict(params["headers"]))
    )

    assert read_all(store.open_object(key)) == BIG

    assert len(sent) == 1
    assert "x-amz-checksum-mode" not in {name.lower() for name in sent[0]}
