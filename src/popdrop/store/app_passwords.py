"""App passwords: a map attribute on the mailbox profile, so login reads them with the profile.

Each entry is `name -> {digest, created_at, last_used_at, last_address}`. Keeping them on the
profile costs no extra request at login; the cap keeps the item far below DynamoDB's 400 KB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from popdrop.faces.faults import AppPasswordConflict, AppPasswordNotFound, MailboxNotFound
from popdrop.model import Address, AppPassword
from popdrop.store import codec, schema
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemInputTypeDef

# One per device; more than this is a leak, not a household.
MAX_APP_PASSWORDS: Final = 20

_OPEN: Final = "attribute_exists(#pk) AND attribute_not_exists(#closing)"


class AppPasswords:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def add(self, address: Address, app_password: AppPassword) -> None:
        name = app_password.name
        try:
            self._update(
                address,
                "SET #apps.#name = :entry",
                f"{_OPEN} AND attribute_not_exists(#apps.#name) AND size(#apps) < :max",
                name,
                {
                    ":entry": codec.app_password_item(app_password),
                    ":max": codec.n(MAX_APP_PASSWORDS),
                },
            )
        except _ConditionFailed:
            raise self._why_not_added(address, name) from None

    def revoke(self, address: Address, name: str) -> None:
        try:
            self._update(
                address,
                "REMOVE #apps.#name",
                f"{_OPEN} AND attribute_exists(#apps.#name)",
                name,
                {},
            )
        except _ConditionFailed:
            raise AppPasswordNotFound(f"{address} has no app password named {name!r}") from None

    def record_use(self, address: Address, name: str, at: int, client_address: str) -> None:
        """Remember when and from where the app password last logged in. A password revoked in
        the meantime is left revoked (the condition fails and nothing is written)."""
        try:
            self._update(
                address,
                "SET #apps.#name.#used = :at, #apps.#name.#from = :from",
                f"{_OPEN} AND attribute_exists(#apps.#name)",
                name,
                {":at": codec.n(at), ":from": codec.s(client_address)},
                extra_names={"#used": codec.LAST_USED_AT, "#from": codec.LAST_ADDRESS},
            )
        except _ConditionFailed:
            return

    def _why_not_added(self, address: Address, name: str) -> Exception:
        with aws_errors():
            item = self._db.get_item(
                TableName=self._table, Key=codec.profile_key(address), ConsistentRead=True
            ).get("Item")
        if item is None or codec.CLOSING in item:
            return MailboxNotFound(address)
        if name in item.get(codec.APP_PASSWORDS, {}).get("M", {}):
            return AppPasswordConflict(f"{address} already has an app password named {name!r}")
        return AppPasswordConflict(f"{address} already has {MAX_APP_PASSWORDS} app passwords")

    def _update(
        self,
        address: Address,
        expression: str,
        condition: str,
        name: str,
        values: dict[str, AttributeValueTypeDef],
        *,
        extra_names: dict[str, str] | None = None,
    ) -> None:
        names = {
            "#pk": schema.PK,
            "#closing": codec.CLOSING,
            "#apps": codec.APP_PASSWORDS,
            "#name": name,
            **(extra_names or {}),
        }
        request: UpdateItemInputTypeDef = {
            "TableName": self._table,
            "Key": codec.profile_key(address),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:  # DynamoDB refuses an empty ExpressionAttributeValues
            request["ExpressionAttributeValues"] = values
        with aws_errors():
            try:
                self._db.update_item(**request)
            except self._db.exceptions.ConditionalCheckFailedException:
                raise _ConditionFailed from None


class _ConditionFailed(Exception):
    pass
