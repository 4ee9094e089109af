"""The table and bucket, defined once.

`template.yaml` declares the same table (a test parses the template and compares it with
`TABLE_DEFINITION`), and the local stack creates it from here.

Single-table design (docs/data-model.md):

| item              | pk                  | sk                              | notes                         |
|-------------------|---------------------|---------------------------------|-------------------------------|
| mailbox profile   | MBX#<address>       | #PROFILE                        | dir_pk=MAILBOX, dir_sk=address|
| message entry     | MBX#<address>       | MSG#<arrived_at ms, 13 digits>#<uid> | arrival order by sk     |
| unique-id marker  | MBX#<address>       | UID#<uid>                       | never deleted: no uid reuse   |
| object references | OBJ#<object key>    | #REF                            | refs = entries pointing at it |
"""

from __future__ import annotations

from typing import Any, Final

PK: Final = "pk"
SK: Final = "sk"
DIRECTORY_INDEX: Final = "directory"
DIR_PK: Final = "dir_pk"
DIR_SK: Final = "dir_sk"
TTL_ATTRIBUTE: Final = "expires_at"

PROFILE_SK: Final = "#PROFILE"
REF_SK: Final = "#REF"
MESSAGE_PREFIX: Final = "MSG#"
UID_PREFIX: Final = "UID#"
DIRECTORY_MAILBOX: Final = "MAILBOX"


def mailbox_pk(address: str) -> str:
    return f"MBX#{address}"


def object_pk(object_key: str) -> str:
    return f"OBJ#{object_key}"


def message_sk(arrived_at: int, uid: str) -> str:
    return f"{MESSAGE_PREFIX}{arrived_at:013d}#{uid}"


def uid_sk(uid: str) -> str:
    return f"{UID_PREFIX}{uid}"


# The CreateTable / AWS::DynamoDB::Table properties both sides must agree on.
TABLE_DEFINITION: Final[dict[str, Any]] = {
    "AttributeDefinitions": [
        {"AttributeName": PK, "AttributeType": "S"},
        {"AttributeName": SK, "AttributeType": "S"},
        {"AttributeName": DIR_PK, "AttributeType": "S"},
        {"AttributeName": DIR_SK, "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": PK, "KeyType": "HASH"},
        {"AttributeName": SK, "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": DIRECTORY_INDEX,
            "KeySchema": [
                {"AttributeName": DIR_PK, "KeyType": "HASH"},
                {"AttributeName": DIR_SK, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
TIME_TO_LIVE: Final[dict[str, Any]] = {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
