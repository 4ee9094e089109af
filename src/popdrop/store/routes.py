"""Addressing and policy items: aliases and catch-alls (`ROUTE#...`), mailbox policies (`#POLICY`).

Ingest looks everything it needs for a message's recipients up in one BatchGetItem (`lookup`):
for each candidate address its profile, its policy and its route.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from popdrop.faces.ingest import Directory
from popdrop.model import VERDICT_KINDS, Address, Disposition, Policy, Route
from popdrop.store import codec, queries, schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TARGETS: Final = "targets"
MAX_MESSAGES: Final = "max_messages"
MAX_OCTETS: Final = "max_octets"


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
        return [
            route_from_item(item)
            for item in queries.directory(self._db, self._table, schema.DIRECTORY_ROUTE)
        ]

    def put_policy(self, address: Address, policy: Policy) -> None:
        item: codec.Item = {
            **policy_key(address),
            **{kind: codec.s(getattr(policy, kind).value) for kind in VERDICT_KINDS},
            MAX_MESSAGES: codec.n(policy.max_messages),
            MAX_OCTETS: codec.n(policy.max_octets),
        }
        with aws_errors():
            self._db.put_item(TableName=self._table, Item=item)

    def delete_policy(self, address: Address) -> None:
        with aws_errors():
            self._db.delete_item(TableName=self._table, Key=policy_key(address))

    def lookup(self, addresses: Iterable[str]) -> Directory:
        """Profiles, policies and routes of `addresses` (routes only for `@domain`)."""
        keys: list[codec.Item] = []
        for address in dict.fromkeys(addresses):
            keys.append(route_key(address))
            if not address.startswith("@"):
                keys += [codec.profile_key(address), policy_key(address)]
        mailboxes: set[Address] = set()
        policies: dict[Address, Policy] = {}
        routes: dict[str, Route] = {}
        for item in queries.batch_get(self._db, self._table, keys):
            pk, sk = item[schema.PK]["S"], item[schema.SK]["S"]
            if sk == schema.ROUTE_SK:
                route = route_from_item(item)
                routes[route.address] = route
            elif sk == schema.PROFILE_SK and codec.CLOSING not in item:
                mailboxes.add(Address(item[codec.ADDRESS]["S"]))
            elif sk == schema.POLICY_SK:
                policies[Address(pk.removeprefix(schema.mailbox_pk("")))] = _policy(item)
        return Directory(frozenset(mailboxes), policies, routes)


def route_from_item(item: codec.Item) -> Route:
    address = item[schema.PK]["S"].removeprefix(schema.route_pk(""))
    return Route(address, tuple(Address(value["S"]) for value in item[TARGETS]["L"]))


def _policy(item: codec.Item) -> Policy:
    return Policy(
        **{kind: Disposition(item[kind]["S"]) for kind in VERDICT_KINDS if kind in item},
        max_messages=int(item.get(MAX_MESSAGES, codec.n(0))["N"]),
        max_octets=int(item.get(MAX_OCTETS, codec.n(0))["N"]),
    )
