"""Issue 17: the storage host's Query reads only the partition it asks for (popd/moto_queries.py).

A moto server patched as `popdrop dev` and the benches' host patch it, in a process of its own (the
rest of the suite keeps moto as it ships), answers every kind of Query exactly as the suite's own,
unpatched moto server does, and no longer gathers and sorts the whole table for it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.popd.test_moto_compact import client, create_table

SERVER = """
import sys
from moto.dynamodb.models.table import Table
from moto.server import ThreadedMotoServer
from popd import moto_queries
whole_table = [0]
gather = Table.all_items
def counted(self):
    whole_table[0] += 1
    return gather(self)
Table.all_items = counted  # the test's own count of whole-table reads, not the product's
moto_queries.install()
moto_queries.install()  # idempotent
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("%s:%d" % server.get_host_and_port(), flush=True)
for line in sys.stdin:
    print(whole_table[0], flush=True)
server.stop()
"""
TABLE = "queries"


class Patched:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.endpoint = "http://" + self.process.stdout.readline().strip()

    def whole_table_reads(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def patched() -> Iterator[Patched]:
    server = Patched()
    yield server
    server.stop()


def _filled(endpoint: str | None, table: str = TABLE) -> Any:
    """A table like popdrop's (hash and range key, a GSI), three partitions of items."""
    dynamodb = boto3.client("dynamodb") if endpoint is None else client("dynamodb", endpoint)
    create_table(dynamodb, table)
    for pk in ("MBX#a", "MBX#b", "MBX#c"):
        for n in range(12):
            item = {"pk": {"S": pk}, "sk": {"S": f"MSG#{n:03d}"}, "n": {"N": str(n)}}
            if n % 3 == 0:
                item["gpk"] = {"S": "G"}
            dynamodb.put_item(TableName=table, Item=item)
    return dynamodb


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "MBX#b"}}},
    {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":p": {"S": "MBX#a"}, ":s": {"S": "MSG#00"}},
        "ScanIndexForward": False,
    },
    {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {
            ":p": {"S": "MBX#c"},
            ":lo": {"S": "MSG#003"},
            ":hi": {"S": "MSG#007"},
        },
        "FilterExpression": "n > :two",
        "ExpressionAttributeValues_extra": {":two": {"N": "4"}},
    },
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "MBX#none"}}},
    {
        "IndexName": "by-g",
        "KeyConditionExpression": "gpk = :g",
        "ExpressionAttributeValues": {":g": {"S": "G"}},
    },
]


def _pages(dynamodb: Any, query: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every page of the query, three items a page (so ExclusiveStartKey is exercised)."""
    request = {key: value for key, value in query.items() if not key.endswith("_extra")}
    request["ExpressionAttributeValues"] = {
        **query["ExpressionAttributeValues"],
        **query.get("ExpressionAttributeValues_extra", {}),
    }
    pages, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = dynamodb.query(TableName=TABLE, Limit=3, **request, **extra)
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def test_every_kind_of_query_answers_as_moto_as_shipped(patched: Patched, moto: str) -> None:
    ours, shipped = _filled(patched.endpoint), _filled(None)  # None: the suite's moto server

    for query in QUERIES:
        assert _pages(ours, query) == _pages(shipped, query), query


def test_a_query_of_one_partition_reads_no_whole_table(patched: Patched) -> None:
    """Without the patch, each of these queries gathers and sorts every item of the table."""
    dynamodb = _filled(patched.endpoint, "whole-table-reads")
    before = patched.whole_table_reads()
    for _ in range(5):
        dynamodb.query(
            TableName="whole-table-reads",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "MBX#a"}},
            ConsistentRead=True,
        )
    index = patched.whole_table_reads()
    dynamodb.query(
        TableName="whole-table-reads",
        IndexName="by-g",
        KeyConditionExpression="gpk = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )

    assert index == before  # five partition queries: not one whole-table read
    assert patched.whole_table_reads() == index + 1  # an index query is moto's as shipped
