"""The maildrop lease: exclusive access to a mailbox across every popd replica (RFC 1939 §8).

One item per mailbox, `MBX#<address>` / `#LEASE`, holding the current holder (`owner`, a random id
per session), when it took the hold (`lease_since`) and when its hold ends (`lease_until`, epoch
milliseconds) and a fencing token that grows
by one with every acquisition. The item is never deleted (releasing only clears the holder), so the
token never goes back: a session that was paused past its expiry and then woke up carries a token
that no longer matches, and every transaction it writes is cancelled by the `guard` condition.

Expiry is compared by the writer's clock on every condition, never left to DynamoDB's TTL (which
deletes items up to days late; moto never does), so `lease_until` is deliberately not the table's
TTL attribute. Clock skew between replicas shortens or lengthens a hold by the skew; keep hosts on
NTP (ECS Fargate is) and the duration well above it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final

from popdrop.faces.faults import LeaseLost
from popdrop.faces.lease import Lease, LeaseState
from popdrop.model import Address
from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

OWNER: Final = "owner"
SINCE: Final = "lease_since"
UNTIL: Final = "lease_until"
FENCING_TOKEN: Final = "fencing_token"  # noqa: S105 - an attribute name

_NAMES: Final = {"#owner": OWNER, "#until": UNTIL, "#token": FENCING_TOKEN}
_ACQUIRE_NAMES: Final = {**_NAMES, "#since": SINCE}
# Held by this session under this token, and not yet expired.
_HELD: Final = "#owner = :owner AND #token = :token AND #until > :now"


def lease_key(address: Address) -> codec.Item:
    return codec.key(schema.mailbox_pk(address), schema.LEASE_SK)


class Leases:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def acquire(
        self, address: Address, owner: str, *, now_ms: int, duration_ms: int
    ) -> Lease | None:
        """Take the maildrop for `owner` until `now_ms + duration_ms`; None while someone else
        holds it.

        The condition admits three timelines: nobody ever held it or the last holder released it
        (no owner); the last holder crashed or was partitioned and its hold ran out (expired); this
        very owner asks again (a retried request whose first reply was lost). Each acquisition
        adds one to the token, so a holder that lost the lease can never again match `guard`.
        """
        item = self._update(
            address,
            "SET #owner = :owner, #since = :now, #until = :until ADD #token :one",
            "attribute_not_exists(#owner) OR #until <= :now OR #owner = :owner",
            {
                ":owner": codec.s(owner),
                ":until": codec.n(now_ms + duration_ms),
                ":now": codec.n(now_ms),
                ":one": codec.n(1),
            },
            _ACQUIRE_NAMES,
        )
        if item is None:
            return None
        token = int(item[FENCING_TOKEN]["N"])
        return Lease(address, owner, token, now_ms + duration_ms, duration_ms)

    def renew(self, lease: Lease, *, now_ms: int) -> Lease:
        """Extend a hold that is still valid; raise `LeaseLost` when it is not (it expired, or
        another session took the maildrop since)."""
        until = now_ms + lease.duration_ms
        values = {**_held_values(lease, now_ms), ":until": codec.n(until)}
        if self._update(lease.mailbox, "SET #until = :until", _HELD, values) is None:
            raise LeaseLost(lease.mailbox)
        return replace(lease, until_ms=until)

    def release(self, lease: Lease) -> bool:
        """Give the maildrop back; False when this lease was no longer the holder (it expired and
        another session took it: that session's hold must not be cleared)."""
        values = {
            ":owner": codec.s(lease.owner),
            ":token": codec.n(lease.token),
            ":zero": codec.n(0),
        }
        return (
            self._update(
                lease.mailbox,
                "REMOVE #owner SET #until = :zero",
                "#owner = :owner AND #token = :token",
                values,
            )
            is not None
        )

    def state(self, address: Address, *, now_ms: int) -> LeaseState | None:
        """Who holds the maildrop now; None when nobody does (never held, released, expired)."""
        with aws_errors():
            item = self._db.get_item(
                TableName=self._table, Key=lease_key(address), ConsistentRead=True
            ).get("Item")
        if item is None or OWNER not in item or int(item[UNTIL]["N"]) <= now_ms:
            return None
        since = int(item.get(SINCE, codec.n(0))["N"])  # 0: taken by a daemon that did not record it
        return LeaseState(item[OWNER]["S"], since, int(item[UNTIL]["N"]))

    def break_hold(self, address: Address) -> bool:
        """An operator ends whatever hold there is (a stale one, after a crash): the holder is
        cleared and the token moves on, so the old holder's commit and release are refused.
        False when nobody held it."""
        return (
            self._update(
                address,
                "REMOVE #owner SET #until = :zero ADD #token :one",
                "attribute_exists(#owner)",
                {":zero": codec.n(0), ":one": codec.n(1)},
            )
            is not None
        )

    def _update(
        self,
        address: Address,
        expression: str,
        condition: str,
        values: dict[str, AttributeValueTypeDef],
        names: dict[str, str] = _NAMES,
    ) -> codec.Item | None:
        """UpdateItem on the lease item under `condition`; its new attributes, or None when the
        condition failed."""
        with aws_errors():
            try:
                response = self._db.update_item(
                    TableName=self._table,
                    Key=lease_key(address),
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                return None
        return response["Attributes"]

    def guard(self, lease: Lease, *, now_ms: int) -> TransactWriteItemTypeDef:
        """A transaction item that cancels the transaction unless `lease` still holds the
        maildrop: every write of the UPDATE state carries one (the fencing check)."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": lease_key(lease.mailbox),
                "ConditionExpression": _HELD,
                "ExpressionAttributeNames": _NAMES,
                "ExpressionAttributeValues": _held_values(lease, now_ms),
            }
        }


def _held_values(lease: Lease, now_ms: int) -> dict[str, AttributeValueTypeDef]:
    return {
        ":owner": codec.s(lease.owner),
        ":token": codec.n(lease.token),
        ":now": codec.n(now_ms),
    }
