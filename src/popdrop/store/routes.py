"""Addressing and policy items: aliases and catch-alls (`ROUTE#...`), mailbox policies (`#POLICY`).

Ingest looks everything it needs for a message's recipients up in one BatchGetItem (`lookup`):
for each candidate address its profile, its policy and its route.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from popdrop.model import VERDICT_KINDS, Action, Policy, Route
from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors, batched
from popdrop.store.errors import StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import KeysAndAttributesTypeDef

TARGETS: Final = "targets"
MAX_MESSAGES: Final = "max_messages"
MAX_OCTETS: Final = "max_octets"
_KEYS_PER_BATCH: Final = 100  # BatchGetItem's limit
_UNPROCESSED_ROUNDS: Final = 5  # DynamoDB hands back unprocessed keys under load; bounded retries


@dataclass(frozen=True, slots=True)
class Directory:
    """What a lookup found: open mailboxes, their policies, and routes by address."""

    mailboxes: frozenset[str] = frozenset()
    policies: dict[str, Policy] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)

    def policy(self, address: str) -> Policy:
        return self.policies.get(address, Policy())

    def merged(self, other: Directory) -> Directory:
        return Directory(
            self.mailboxes | other.mailboxes,
            {**self.policies, **other.policies},
            {**self.routes, **other.routes},
        )


def route_key(address: str) -> codec.Item:
    return codec.key(schema.route_pk(address), schema.ROUTE_SK)


def policy_key(address: str) -> codec.Item:
    return codec.key(schema.mailbox_pk(address), schema.POLICY_SK)


class Routes:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def put_route(self, route: Route) -> None:
        """Create or replace the alias or catch-all; listed through the `directory` index."""
        item: codec.Item = {
            **route_key(route.address),
            schema.DIR_PK: codec.s(schema.DIRECTORY_ROUTE),
            schema.DIR_SK: codec.s(route.address),
            TARGETS: {"L": [codec.s(target) for target in route.targets]},
        }
        with aws_errors():
            self._db.put_item(TableName=self._table, Item=item)

    def delete_route(self, address: str) -> bool:
        with aws_errors():
            response = self._db.delete_item(
                TableName=self._table, Key=route_key(address), ReturnValues="ALL_OLD"
            )
        return "Attributes" in response

    def list_routes(self) -> list[Route]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=schema.DIRECTORY_INDEX,
            KeyConditionExpression="#dir = :routes",
            ExpressionAttributeNames={"#dir": schema.DIR_PK},
            ExpressionAttributeValues={":routes": codec.s(schema.DIRECTORY_ROUTE)},
        )
        with aws_errors():
            return [_route(item) for page in pages for item in page["Items"]]

    def put_policy(self, address: str, policy: Policy) -> None:
        item: codec.Item = {
            **policy_key(address),
            **{kind: codec.s(getattr(policy, kind).value) for kind in VERDICT_KINDS},
            MAX_MESSAGES: codec.n(policy.max_messages),
            MAX_OCTETS: codec.n(policy.max_octets),
        }
        with aws_errors():
            self._db.put_item(TableName=self._table, Item=item)

    def delete_policy(self, address: str) -> None:
        with aws_errors():
            self._db.delete_item(TableName=self._table, Key=policy_key(address))

    def lookup(self, addresses: Iterable[str]) -> Directory:
        """Profiles, policies and routes of `addresses` (routes only for `@domain`)."""
        keys: list[codec.Item] = []
        for address in dict.fromkeys(addresses):
            keys.append(route_key(address))
            if not address.startswith("@"):
                keys += [codec.profile_key(address), policy_key(address)]
        mailboxes: set[str] = set()
        policies: dict[str, Policy] = {}
        routes: dict[str, Route] = {}
        for item in self._batch_get(keys):
            pk, sk = item[schema.PK]["S"], item[schema.SK]["S"]
            if sk == schema.ROUTE_SK:
                route = _route(item)
                routes[route.address] = route
            elif sk == schema.PROFILE_SK and codec.CLOSING not in item:
                mailboxes.add(item[codec.ADDRESS]["S"])
            elif sk == schema.POLICY_SK:
                policies[pk.removeprefix(schema.mailbox_pk(""))] = _policy(item)
        return Directory(frozenset(mailboxes), policies, routes)

    def _batch_get(self, keys: list[codec.Item]) -> list[codec.Item]:
        found: list[codec.Item] = []
        for batch in batched(keys, _KEYS_PER_BATCH):
            request: dict[str, KeysAndAttributesTypeDef] = {
                self._table: {"Keys": list(batch), "ConsistentRead": True}
            }
            for _ in range(_UNPROCESSED_ROUNDS):
                with aws_errors():
                    response = self._db.batch_get_item(RequestItems=request)
                found += response["Responses"].get(self._table, [])
                unprocessed = response.get("UnprocessedKeys") or {}
                request = {
                    table: {"Keys": list(keys["Keys"]), "ConsistentRead": True}
                    for table, keys in unprocessed.items()
                }
                if not request:
                    break
            else:
                raise StorageUnavailable("BatchGetItem kept returning unprocessed keys")
        return found


def _route(item: codec.Item) -> Route:
    address = item[schema.PK]["S"].removeprefix(schema.route_pk(""))
    return Route(address, tuple(value["S"] for value in item[TARGETS]["L"]))


def _policy(item: codec.Item) -> Policy:
    return Policy(
        **{kind: Action(item[kind]["S"]) for kind in VERDICT_KINDS if kind in item},
        max_messages=int(item.get(MAX_MESSAGES, codec.n(0))["N"]),
        max_octets=int(item.get(MAX_OCTETS, codec.n(0))["N"]),
    )
