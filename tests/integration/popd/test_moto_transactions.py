"""Issue 13: `popdrop dev`'s patch of moto's transact_write_items (popd/moto_transactions.py).

It backs up only the items a transaction touches instead of deep-copying the table, and must keep
DynamoDB's behaviour: all or nothing, with the cancellation reasons in action order. The patched
server runs in its own process, so the rest of the suite keeps moto as it ships.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

SERVER = """
import sys
from moto.server import ThreadedMotoServer
from popd import moto_transactions
moto_transactions.install()
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("%s:%d" % server.get_host_and_port(), flush=True)
sys.stdin.read()
server.stop()
"""

TABLE = "transactions"

# A patched moto DynamoDB backend in a fresh interpreter, with a table "t" keyed by "pk".
BACKEND_WITH_TABLE_T = """
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from popd import moto_transactions
moto_transactions.install()
backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
backend.create_table("t", schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    throughput=None, attr=[{"AttributeName": "pk", "AttributeType": "S"}],
    global_indexes=None, indexes=None, streams=None, billing_mode="PAY_PER_REQUEST",
    sse_specification=None, tags=None, deletion_protection_enabled=False,
    warm_throughput=None)
"""


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdin is not None
    address = process.stdout.readline().strip()
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://{address}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    process.stdin.close()
    process.wait(timeout=30)


def key(pk: str, sk: str = "-") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def put(pk: str, **attributes: str) -> dict[str, Any]:
    item = key(pk) | {name: {"S": value} for name, value in attributes.items()}
    return {"Put": {"TableName": TABLE, "Item": item}}


def get(client: Any, pk: str) -> dict[str, Any] | None:
    return client.get_item(TableName=TABLE, Key=key(pk), ConsistentRead=True).get("Item")


def cancelled(client: Any, actions: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=actions)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    return [reason["Code"] for reason in raised.value.response["CancellationReasons"]]


def test_a_successful_transaction_applies_every_action(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=key("gone"))
    dynamodb.transact_write_items(
        TransactItems=[
            put("made", colour="red"),
            {"Delete": {"TableName": TABLE, "Key": key("gone")}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": key("counted"),
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    assert get(dynamodb, "made") == key("made") | {"colour": {"S": "red"}}
    assert get(dynamodb, "gone") is None
    assert get(dynamodb, "counted") == key("counted") | {"n": {"N": "1"}}


def test_a_failed_condition_cancels_all_and_rolls_back_puts_updates_and_deletes(
    dynamodb: Any,
) -> None:
    """DynamoDB's TransactWriteItems: all or nothing, one reason per action, in order."""
    dynamodb.put_item(TableName=TABLE, Item=key("kept") | {"v": {"S": "old"}})
    dynamodb.put_item(TableName=TABLE, Item=key("doomed") | {"v": {"S": "still here"}})
    reasons = cancelled(
        dynamodb,
        [
            put("fresh", v="new"),
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": key("kept"),
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "changed"}},
                }
            },
            {"Delete": {"TableName": TABLE, "Key": key("doomed")}},
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": key("absent"),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
    )
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert get(dynamodb, "fresh") is None
    assert get(dynamodb, "kept") == key("kept") | {"v": {"S": "old"}}
    assert get(dynamodb, "doomed") == key("doomed") | {"v": {"S": "still here"}}


def test_a_failed_put_condition_keeps_the_item_it_guarded(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=key("owned") | {"owner": {"S": "a"}})
    reasons = cancelled(
        dynamodb,
        [
            put("side", v="x"),
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": key("owned") | {"owner": {"S": "b"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ],
    )
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert get(dynamodb, "owned") == key("owned") | {"owner": {"S": "a"}}
    assert get(dynamodb, "side") is None


def test_two_actions_on_one_item_are_refused_and_change_nothing(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[put("twice", v="1"), put("twice", v="2")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert get(dynamodb, "twice") is None


def test_the_table_is_never_copied_whole() -> None:
    """The point of the patch: a cancelled transaction restores its items in place, so the table
    object (and its other items) is the same one afterwards; moto as shipped swaps in a deep copy
    of the whole table."""
    script = (
        BACKEND_WITH_TABLE_T
        + """
table = backend.tables["t"]
backend.put_item("t", {"pk": {"S": "other"}})
other = table.items[next(iter(table.items))]
try:
    backend.transact_write_items([
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "nope"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])
except Exception as error:
    print(type(error).__name__)
print(backend.tables["t"] is table, len(table.items), table.items[other.hash_key] is other)
"""
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["TransactionCanceledException", "True", "1", "True"]


def test_replaced_item_versions_are_not_kept_in_memory() -> None:
    """moto keeps every model object it ever made (for its dashboard); `popdrop dev` stops that,
    so 50 updates of one item leave one item in memory, not 50 versions and their copies."""
    script = (
        BACKEND_WITH_TABLE_T
        + """
import gc
from moto.dynamodb.models.dynamo_type import Item
moto_transactions.untrack_instances("dynamodb", "s3")
for n in range(50):
    backend.transact_write_items([{"Update": {"TableName": "t", "Key": {"pk": {"S": "one"}},
        "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": str(n)}}}}])
gc.collect()
print(sum(isinstance(o, Item) for o in gc.get_objects()))
"""
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1"]
