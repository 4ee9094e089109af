"""The last login time, for LOGIN-DELAY (RFC 2449 §6.8).

It lives on the mailbox profile item, in DynamoDB rather than in one daemon's memory, so every
popd replica enforces the delay alike. (The APOP secret, the profile's other login attribute, is
read with the profile: `Mailboxes.get_with_apop_secret`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from popdrop.store import codec
from popdrop.store.aws import aws_errors
from popdrop.store.mailboxes import OPEN

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Logins:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def record_login(self, address: str, now: int, delay: int) -> bool:
        """Record a login at `now` (epoch seconds) unless the last one was less than `delay`
        seconds ago; True when recorded.

        One conditional write decides, so two replicas racing for the same mailbox cannot both
        admit a login inside the delay: the second write's condition sees the first's time.
        """
        with aws_errors():
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key=codec.profile_key(address),
                    UpdateExpression="SET #last = :now",
                    ConditionExpression=(
                        f"{OPEN.expression} AND (attribute_not_exists(#last) OR #last <= :cutoff)"
                    ),
                    ExpressionAttributeNames={**OPEN.names, "#last": codec.LAST_LOGIN},
                    ExpressionAttributeValues={
                        ":now": codec.n(now),
                        ":cutoff": codec.n(now - delay),
                    },
                )
            except self._db.exceptions.ConditionalCheckFailedException:
                return False
        return True
