"""The maildrop lease: exclusive access to a mailbox across every popd replica (RFC 1939 §8).

Two kinds of item (docs/engine.md, "Exclusive access across replicas"):

- **A daemon's heartbeat**, `DAEMON#<id>` / `#HEARTBEAT`: `alive_until` (epoch milliseconds). The
  daemon renews it every third of its period, only while it has not run out, so a heartbeat that
  ran out never comes back: a daemon that missed its renewals starts a new one under a new id.
- **A mailbox's lease**, `MBX#<address>` / `#LEASE`: the holding session (`owner`, a random id),
  the daemon whose heartbeat keeps it (`daemon`) and a fencing token that grows by one with every
  acquisition. A lease is held for as long as its daemon's heartbeat is fresh, so an idle session
  costs no writes at all: the daemon's one heartbeat keeps every lease its sessions hold.

Taking a held lease over is one transaction that requires both that the lease is unchanged since it
was read and that its daemon's heartbeat has run out, so it never races a live holder. The item is
never deleted (releasing only clears the holder), so the token never goes back: every transaction a
session writes carries the `guard`, which cancels it once someone else has taken the maildrop.

Expiry is compared by the writer's clock on every condition, never left to DynamoDB's TTL (which
deletes items up to days late; moto never does). Clock skew between replicas shortens or lengthens
a dead daemon's hold by the skew; keep hosts on NTP (ECS Fargate is) and the period well above it.

Leases written by earlier versions, one per session with its own `lease_until` and no daemon, are
still honoured until that time, so a rolling upgrade keeps exclusivity while both versions run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from popdrop.faces.faults import LeaseLost
from popdrop.faces.lease import Heartbeat, Lease, LeaseState
from popdrop.model import Address
from popdrop.store import codec, schema, transactions
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

OWNER: Final = "owner"
DAEMON: Final = "daemon"
SINCE: Final = "lease_since"
FENCING_TOKEN: Final = "fencing_token"  # noqa: S105 - an attribute name
ALIVE_UNTIL: Final = "alive_until"
# A lease of an earlier version: held until then by its own session's renewals.
UNTIL: Final = "lease_until"
# A heartbeat outlives its last renewal by this long in the table before DynamoDB's TTL removes it
# (a missing heartbeat reads as one that ran out).
HEARTBEAT_KEPT_SECONDS: Final = 86400

_NAMES: Final = {"#owner": OWNER, "#token": FENCING_TOKEN}
_TAKE: Final = "SET #owner = :owner, #daemon = :daemon, #since = :now REMOVE #until ADD #token :one"
_TAKE_NAMES: Final = {**_NAMES, "#daemon": DAEMON, "#until": UNTIL, "#since": SINCE}
# Still held by this session under this token.
_HELD: Final = "#owner = :owner AND #token = :token"
_ALIVE_NAMES: Final = {"#alive": ALIVE_UNTIL}


def lease_key(address: Address) -> codec.Item:
    return codec.key(schema.mailbox_pk(address), schema.LEASE_SK)


def heartbeat_key(daemon: str) -> codec.Item:
    return codec.key(schema.daemon_pk(daemon), schema.HEARTBEAT_SK)


class Heartbeats:
    """Each daemon's liveness, which keeps every lease its sessions hold."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def start(self, daemon: str, *, now_ms: int, duration_ms: int) -> Heartbeat:
        """A new heartbeat, alive until `now_ms + duration_ms` (a daemon id is used once)."""
        until = now_ms + duration_ms
        item = {
            **heartbeat_key(daemon),
            ALIVE_UNTIL: codec.n(until),
            schema.TTL_ATTRIBUTE: codec.n(until // 1000 + HEARTBEAT_KEPT_SECONDS),
        }
        with aws_errors():
            self._db.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": schema.PK},
            )
        return Heartbeat(daemon, until, duration_ms)

    def renew(self, heartbeat: Heartbeat, *, now_ms: int) -> Heartbeat:
        """Extend a heartbeat that has not run out; `LeaseLost` when it has (its daemon's leases
        may have been taken over since: they are lost, and this heartbeat stays dead)."""
        until = now_ms + heartbeat.duration_ms
        with aws_errors():
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key=heartbeat_key(heartbeat.daemon),
                    UpdateExpression="SET #alive = :until, #ttl = :ttl",
                    ConditionExpression="#alive > :now",
                    ExpressionAttributeNames={**_ALIVE_NAMES, "#ttl": schema.TTL_ATTRIBUTE},
                    ExpressionAttributeValues={
                        ":until": codec.n(until),
                        ":ttl": codec.n(until // 1000 + HEARTBEAT_KEPT_SECONDS),
                        ":now": codec.n(now_ms),
                    },
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                raise LeaseLost(f"the heartbeat of daemon {heartbeat.daemon} ran out") from None
        return Heartbeat(heartbeat.daemon, until, heartbeat.duration_ms)

    def end(self, heartbeat: Heartbeat) -> None:
        """Stop the heartbeat now (a daemon that stops): any lease it still keeps is free."""
        with aws_errors():
            self._db.update_item(
                TableName=self._table,
                Key=heartbeat_key(heartbeat.daemon),
                UpdateExpression="SET #alive = :zero",
                ExpressionAttributeNames=_ALIVE_NAMES,
                ExpressionAttributeValues={":zero": codec.n(0)},
            )

    def alive(self, daemon: str, *, now_ms: int) -> bool:
        """Whether `daemon`'s heartbeat is fresh at `now_ms` (one consistent read)."""
        return self.alive_until(daemon) > now_ms

    def alive_until(self, daemon: str) -> int:
        """When `daemon`'s heartbeat runs out unless renewed (epoch milliseconds; 0 when it has
        none), from one consistent read."""
        with aws_errors():
            item = self._db.get_item(
                TableName=self._table, Key=heartbeat_key(daemon), ConsistentRead=True
            ).get("Item")
        return 0 if item is None else int(item[ALIVE_UNTIL]["N"])


class Leases:
    def __init__(self, dynamodb: DynamoDBClient, table: str, heartbeats: Heartbeats) -> None:
        self._db = dynamodb
        self._table = table
        self._heartbeats = heartbeats

    def acquire(
        self, address: Address, owner: str, heartbeat: Heartbeat, *, now_ms: int
    ) -> Lease | None:
        """Take the maildrop for `owner`, kept by `heartbeat`'s daemon; None while another live
        session holds it.

        One conditional write takes a free lease (nobody ever held it, or the last holder released
        it) or one this very owner holds (a retried request whose first reply was lost). A lease
        held elsewhere is taken over only when its daemon's heartbeat has run out (the daemon
        crashed or lost DynamoDB), in one transaction with that condition.
        """
        claimed = self._claim(address, owner, heartbeat, now_ms=now_ms)
        if isinstance(claimed, Lease):
            return claimed
        return self._take_over(address, owner, heartbeat, claimed, now_ms=now_ms)

    def _claim(
        self, address: Address, owner: str, heartbeat: Heartbeat, *, now_ms: int
    ) -> Lease | codec.Item:
        """Take a free lease, or one `owner` holds already; else the lease as it is."""
        with aws_errors():
            try:
                response = self._db.update_item(
                    TableName=self._table,
                    Key=lease_key(address),
                    UpdateExpression=_TAKE,
                    ConditionExpression="attribute_not_exists(#owner) OR #owner = :owner",
                    ExpressionAttributeNames=_TAKE_NAMES,
                    ExpressionAttributeValues=self._take_values(owner, heartbeat, now_ms),
                    ReturnValues="UPDATED_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except self._db.exceptions.ConditionalCheckFailedException as failed:
                held: codec.Item = failed.response["Item"]  # type: ignore[typeddict-item]
                return held
        token = int(response["Attributes"][FENCING_TOKEN]["N"])
        return Lease(address, owner, token, heartbeat.daemon)

    def _take_over(
        self,
        address: Address,
        owner: str,
        heartbeat: Heartbeat,
        held: codec.Item,
        *,
        now_ms: int,
    ) -> Lease | None:
        """Take `held` (the lease as it was read) if its holder is dead."""
        seen = {":seen_owner": held[OWNER], ":seen_token": held[FENCING_TOKEN]}
        condition = "#owner = :seen_owner AND #token = :seen_token"
        holder = held.get(DAEMON)
        if holder is None:  # an earlier version's lease: held until its own expiry
            condition += " AND #until <= :now"
            seen[":now"] = codec.n(now_ms)
            checks: list[TransactWriteItemTypeDef] = []
        elif self._heartbeats.alive(holder["S"], now_ms=now_ms):
            return None
        else:
            checks = [self._dead(holder["S"], now_ms)]
        take: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": lease_key(address),
                "UpdateExpression": _TAKE,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": _TAKE_NAMES,
                "ExpressionAttributeValues": {
                    **self._take_values(owner, heartbeat, now_ms),
                    **seen,
                },
            }
        }
        if transactions.transact(self._db, [take, *checks]) is None:
            return Lease(address, owner, int(held[FENCING_TOKEN]["N"]) + 1, heartbeat.daemon)
        # Cancelled: the holder renewed, released or was taken over meanwhile, or an attempt of
        # this very takeover took effect and its reply was lost (then it is ours: claim it).
        claimed = self._claim(address, owner, heartbeat, now_ms=now_ms)
        return claimed if isinstance(claimed, Lease) else None

    def _dead(self, daemon: str, now_ms: int) -> TransactWriteItemTypeDef:
        """A transaction item that holds only while `daemon`'s heartbeat has run out."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": heartbeat_key(daemon),
                "ConditionExpression": "attribute_not_exists(#alive) OR #alive <= :now",
                "ExpressionAttributeNames": _ALIVE_NAMES,
                "ExpressionAttributeValues": {":now": codec.n(now_ms)},
            }
        }

    @staticmethod
    def _take_values(
        owner: str, heartbeat: Heartbeat, now_ms: int
    ) -> dict[str, AttributeValueTypeDef]:
        return {
            ":owner": codec.s(owner),
            ":daemon": codec.s(heartbeat.daemon),
            ":now": codec.n(now_ms),
            ":one": codec.n(1),
        }

    def release(self, lease: Lease) -> bool:
        """Give the maildrop back; False when this lease was no longer the holder (another session
        took it over: that session's hold must not be cleared)."""
        with aws_errors():
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key=lease_key(lease.mailbox),
                    UpdateExpression="REMOVE #owner, #daemon",
                    ConditionExpression=_HELD,
                    ExpressionAttributeNames={**_NAMES, "#daemon": DAEMON},
                    ExpressionAttributeValues=_held_values(lease),
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def state(self, address: Address, *, now_ms: int) -> LeaseState | None:
        """Who holds the maildrop now; None when nobody does (never held, released, or its
        holder's heartbeat ran out)."""
        with aws_errors():
            item = self._db.get_item(
                TableName=self._table, Key=lease_key(address), ConsistentRead=True
            ).get("Item")
        if item is None or OWNER not in item:
            return None
        if DAEMON in item:
            until = self._heartbeats.alive_until(item[DAEMON]["S"])
        else:  # an earlier version's lease
            until = int(item.get(UNTIL, codec.n(0))["N"])
        if until <= now_ms:
            return None
        since = int(item.get(SINCE, codec.n(0))["N"])  # 0: taken by a daemon that did not say
        return LeaseState(item[OWNER]["S"], since, until)

    def break_hold(self, address: Address) -> bool:
        """An operator ends whatever hold there is (a stale one, after a crash): the holder is
        cleared and the token moves on, so the old holder's commit and release are refused.
        False when nobody held it."""
        with aws_errors():
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key=lease_key(address),
                    UpdateExpression="REMOVE #owner, #daemon, #until ADD #token :one",
                    ConditionExpression="attribute_exists(#owner)",
                    ExpressionAttributeNames={**_NAMES, "#daemon": DAEMON, "#until": UNTIL},
                    ExpressionAttributeValues={":one": codec.n(1)},
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def guard(self, lease: Lease) -> TransactWriteItemTypeDef:
        """A transaction item that cancels the transaction unless `lease` still holds the
        maildrop: every write of the UPDATE state carries one (the fencing check)."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": lease_key(lease.mailbox),
                "ConditionExpression": _HELD,
                "ExpressionAttributeNames": _NAMES,
                "ExpressionAttributeValues": _held_values(lease),
            }
        }


def _held_values(lease: Lease) -> dict[str, AttributeValueTypeDef]:
    return {":owner": codec.s(lease.owner), ":token": codec.n(lease.token)}
