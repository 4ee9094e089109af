"""Mailbox profiles: credentials and counters, listed through the sparse `directory` index."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Final, NamedTuple

from popdrop.faces.credentials import Credentials
from popdrop.faces.faults import MailboxExists, MailboxNotFound
from popdrop.model import Address, Mailbox, ScramKeys
from popdrop.store import codec, queries, schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef


class Condition(NamedTuple):
    expression: str
    # DynamoDB rejects attribute names an expression does not use, so each condition brings its own.
    names: dict[str, str]


EXISTS: Final = Condition("attribute_exists(#pk)", {"#pk": schema.PK})
# A profile being removed keeps its item (with `closing` set) until its entries are gone: the flag
# shuts out new deliveries and logins while the removal runs, and lets an interrupted one resume.
OPEN: Final = Condition(
    "attribute_exists(#pk) AND attribute_not_exists(#closing)",
    {"#pk": schema.PK, "#closing": codec.CLOSING},
)


def counters(
    table: str, address: str, messages: int, octets: int, condition: Condition
) -> TransactWriteItemTypeDef:
    """A transaction item adding to a profile's message and octet counters under `condition`, and
    moving its listing version on: every transaction that puts or deletes a message entry of the
    mailbox, in any folder, carries one (with zero counts where they do not change)."""
    return {
        "Update": {
            "TableName": table,
            "Key": codec.profile_key(address),
            "UpdateExpression": "ADD #count :messages, #octets :octets, #version :one",
            "ConditionExpression": condition.expression,
            "ExpressionAttributeNames": {
                **condition.names,
                "#count": codec.MESSAGE_COUNT,
                "#octets": codec.OCTETS,
                "#version": codec.LISTING_VERSION,
            },
            "ExpressionAttributeValues": {
                ":messages": codec.n(messages),
                ":octets": codec.n(octets),
                ":one": codec.n(1),
            },
        }
    }


class Mailboxes:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def create(
        self, address: Address, password_hash: str, scram: ScramKeys | None = None
    ) -> Mailbox:
        mailbox = Mailbox(
            address=address, password_hash=password_hash, created_at=int(time.time()), scram=scram
        )
        with aws_errors():
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={
                        **codec.profile_item(mailbox),
                        codec.LISTING_VERSION: codec.n(secrets.randbits(62)),
                    },
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": schema.PK},
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                raise MailboxExists(address) from None
        return mailbox

    def credentials(self, address: Address) -> Credentials | None:
        """The open profile and its APOP secret, from one strongly consistent read."""
        with aws_errors():
            response = self._db.get_item(
                TableName=self._table, Key=codec.profile_key(address), ConsistentRead=True
            )
        item = response.get("Item")
        if item is None or codec.CLOSING in item:
            return None
        return Credentials(codec.mailbox_from_item(item), item.get(codec.APOP_SECRET, {}).get("S"))

    def listing_version(self, address: Address) -> int | None:
        """The open profile's listing version, from one strongly consistent read; None when the
        mailbox is gone or was made before versions existed (then no listing may be reused)."""
        with aws_errors():
            response = self._db.get_item(
                TableName=self._table,
                Key=codec.profile_key(address),
                ConsistentRead=True,
                ProjectionExpression="#version, #closing",
                ExpressionAttributeNames={
                    "#version": codec.LISTING_VERSION,
                    "#closing": codec.CLOSING,
                },
            )
        item = response.get("Item")
        if item is None or codec.CLOSING in item or codec.LISTING_VERSION not in item:
            return None
        return int(item[codec.LISTING_VERSION]["N"])

    def directory(self) -> list[Mailbox]:
        items = queries.directory(self._db, self._table, schema.DIRECTORY_MAILBOX)
        return [codec.mailbox_from_item(item) for item in items]

    def set_password(
        self, address: Address, password_hash: str, scram: ScramKeys | None = None
    ) -> None:
        """Replace the password hash and the SCRAM verifier together (none: SCRAM is removed, so
        an old verifier never outlives the password it was derived from)."""
        if scram is None:
            self._update(
                address,
                "SET #hash = :hash REMOVE #scram",
                OPEN,
                {"#hash": codec.PASSWORD_HASH, "#scram": codec.SCRAM},
                {":hash": codec.s(password_hash)},
            )
        else:
            self._update(
                address,
                "SET #hash = :hash, #scram = :scram",
                OPEN,
                {"#hash": codec.PASSWORD_HASH, "#scram": codec.SCRAM},
                {":hash": codec.s(password_hash), ":scram": codec.scram_item(scram)},
            )

    def set_apop_secret(self, address: Address, secret: str) -> None:
        """APOP's shared secret (RFC 1939 §7), an attribute apart from the password hash."""
        self._update(
            address,
            "SET #secret = :secret",
            OPEN,
            {"#secret": codec.APOP_SECRET},
            {":secret": codec.s(secret)},
        )

    def close(self, address: Address) -> None:
        """Start removing the mailbox: no delivery, login or listing reaches it from now on."""
        self._update(
            address,
            "SET #closing = :true REMOVE #dir_pk, #dir_sk",
            EXISTS,
            {"#closing": codec.CLOSING, "#dir_pk": schema.DIR_PK, "#dir_sk": schema.DIR_SK},
            {":true": {"BOOL": True}},
        )

    def delete(self, address: Address) -> None:
        with aws_errors():
            self._db.delete_item(TableName=self._table, Key=codec.profile_key(address))

    def _update(
        self,
        address: Address,
        expression: str,
        condition: Condition,
        names: dict[str, str],
        values: dict[str, AttributeValueTypeDef],
    ) -> None:
        with aws_errors():
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key=codec.profile_key(address),
                    UpdateExpression=expression,
                    ConditionExpression=condition.expression,
                    ExpressionAttributeNames={**condition.names, **names},
                    ExpressionAttributeValues=values,
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                raise MailboxNotFound(address) from None
