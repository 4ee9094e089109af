"""DynamoDB capacity units and S3 requests of what a boto3 client does, by AWS's rules, and what
they cost (moto reports no consumed capacity, so the units are computed from the items).

Rules (DynamoDB developer guide, "Read/write capacity units" and "Item sizes"):
- an item's size is the UTF-8 length of its attribute names plus its values: a string by its
  UTF-8 length, a number about one octet per two significant digits plus one, binary by length,
  a boolean or null one octet; a map or list 3 octets plus one per element plus its contents;
- a strongly consistent read costs one read unit per 4 KB of the item (GetItem) or of all the items
  a Query page returns together (eventually consistent: half); BatchGetItem per item;
- a write costs one write unit per 1 KB of the item written (Put: the new item; Update and Delete:
  counted here as 1, every item this project updates or deletes is under 1 KB); a transaction
  doubles each of its items' units, ConditionCheck included.

Prices (us-east-1, on-demand, December 2026): DynamoDB $0.125 per million read request units and
$0.625 per million write request units; S3 GET $0.0004 and PUT, COPY, LIST $0.005 per thousand.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

READ_UNIT_PRICE = 0.125 / 1e6
WRITE_UNIT_PRICE = 0.625 / 1e6
S3_PRICES = {"GetObject": 0.0004 / 1000, "ListObjectsV2": 0.005 / 1000, "PutObject": 0.005 / 1000}
S3_PRICES |= {"CopyObject": 0.005 / 1000, "HeadObject": 0.0004 / 1000}


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = len(data.lstrip("-").replace(".", "").strip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(item) for name, item in data.items())
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in data)
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: item}) for item in data)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


@dataclass
class Meter:
    """Calls, read and write units of the boto3 clients it is attached to."""

    calls: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0

    def attach(self, *clients: Any) -> None:
        for client in clients:
            client.meta.events.register("before-call.*.*", self._before)
            client.meta.events.register("after-call.*.*", self._after)

    def detach(self, *clients: Any) -> None:
        for client in clients:
            client.meta.events.unregister("before-call.*.*", self._before)
            client.meta.events.unregister("after-call.*.*", self._after)

    def reset(self) -> None:
        self.calls.clear()
        self.read_units = self.write_units = 0.0

    def dollars(self) -> float:
        s3 = sum(S3_PRICES.get(name, 0.0) * count for name, count in self.calls.items())
        return self.read_units * READ_UNIT_PRICE + self.write_units * WRITE_UNIT_PRICE + s3

    @staticmethod
    def _before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["metered_body"] = params.get("body")  # the serialised request, for `_after`

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        name = model.name
        self.calls[name] += 1
        if model.service_model.service_name != "dynamodb":
            return
        request = json.loads(context.get("metered_body") or b"{}")
        consistent = bool(request.get("ConsistentRead"))
        match name:
            case "GetItem":
                self.read_units += _read_units(item_size(parsed.get("Item", {})), consistent)
            case "Query" | "Scan":
                size = sum(item_size(item) for item in parsed.get("Items", []))
                self.read_units += _read_units(size, consistent)
            case "BatchGetItem":
                for table, items in parsed.get("Responses", {}).items():
                    strong = bool(request["RequestItems"][table].get("ConsistentRead"))
                    self.read_units += sum(_read_units(item_size(item), strong) for item in items)
            case "PutItem":
                self.write_units += max(1, math.ceil(item_size(request["Item"]) / 1024))
            case "UpdateItem" | "DeleteItem":
                self.write_units += 1
            case "BatchWriteItem":
                for requests in request["RequestItems"].values():
                    for one in requests:
                        put = one.get("PutRequest")
                        size = item_size(put["Item"]) if put else 0
                        self.write_units += max(1, math.ceil(size / 1024))
            case "TransactWriteItems":
                for action in request["TransactItems"]:
                    ((kind, detail),) = action.items()
                    size = item_size(detail["Item"]) if kind == "Put" else 0
                    self.write_units += 2 * max(1, math.ceil(size / 1024))
