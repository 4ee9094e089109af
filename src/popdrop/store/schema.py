"""The table and bucket, defined once.

`template.yaml` declares the same table (a test parses the template and compares it with
`TABLE_DEFINITION`), and the local stack creates it from here.

Single-table design (docs/data-model.md; attribute names in `popdrop.store.codec`):

| item              | pk               | sk                             | other attributes         |
|-------------------|------------------|--------------------------------|--------------------------|
| mailbox profile   | MBX#<address>    | #PROFILE                       | address, password_hash,  |
|                   |                  |                                | created_at, octets,      |
|                   |                  |                                | message_count, closing,  |
|                   |                  |                                | dir_pk=MAILBOX,          |
|                   |                  |                                | dir_sk=<address>,        |
|                   |                  |                                | apop_secret?, last_login?|
|                   |                  |                                | listing_version          |
| message entry     | MBX#<address>    | MSG#<arrived_at ms:013d>#<uid> | object_key, size,        |
|                   |                  |                                | header_size, tag?,       |
|                   |                  |                                | expires_at? (lean)       |
| unique-id marker  | MBX#<address>    | UID#<uid>                      | entry_sk (the entry's sk)|
| maildrop lease    | MBX#<address>    | #LEASE                         | owner, daemon,           |
|                   |                  |                                | lease_since,             |
|                   |                  |                                | fencing_token (`lease`)  |
| daemon heartbeat  | DAEMON#<id>      | #HEARTBEAT                     | alive_until, expires_at  |
| object references | OBJ#<object key> | #REF                           | refs (entries using it), |
|                   |                  |                                | summary, verdicts (maps, |
|                   |                  |                                | the API's), mime_v1      |
|                   |                  |                                | (POP4's cache),          |
|                   |                  |                                | gc_pk?, gc_at? (garbage) |
| folder directory  | MBX#<address>    | #FOLDERS                       | folders (map), version   |
| folder counters   | MBX#<address>    | #FOLDER#<folder id>            | message_count, octets    |
| folder's message  | MBX#<address>    | FMSG#<id>#<arrived ms>#<uid>   | as a message entry       |
| sweep checkpoint  | SWEEP#<name>     | #CHECKPOINT                    | swept_to (epoch ms)      |

- A mailbox lists in arrival order with one Query (`begins_with(sk, "MSG#")`): that is INBOX, and
  every entry written before POP4's folders existed is there. A folder lists with one Query
  (`begins_with(sk, "FMSG#<id>#")`); its name is in the directory, so a rename rewrites nothing.
- The `#` items sort together: one Query (`sk BETWEEN "#FOLDER" AND "#PROFILE"`) reads the
  directory, every folder's counters and the profile's (LFLD, docs/data-model.md).
- Only profiles carry `dir_pk`/`dir_sk`, so the `directory` index is sparse: it lists mailboxes.
  A profile being removed has `closing` set and leaves the index.
- A unique-id marker is never deleted, so a uid is never reused in that mailbox (RFC 1939 §7).
- A message entry is lean (what a login reads); the summary and verdicts, the same for every
  recipient, are on the object's reference item (docs/data-model.md, "Lean entries").
- A reference item that may have become garbage (a count went down, or a message reached no
  mailbox) carries `gc_pk`/`gc_at`, so the sparse `garbage` index lists exactly what gc must look
  at (`popdrop.store.gc`).
- `expires_at` (epoch seconds) is the TTL attribute; readers skip expired items themselves,
  because DynamoDB deletes them up to days late.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

PK: Final = "pk"
SK: Final = "sk"
DIRECTORY_INDEX: Final = "directory"
DIR_PK: Final = "dir_pk"
DIR_SK: Final = "dir_sk"
TTL_ATTRIBUTE: Final = "expires_at"
GARBAGE_INDEX: Final = "garbage"
GC_PK: Final = "gc_pk"
GC_AT: Final = "gc_at"
# The garbage index's partition key is spread over these values: every QUIT deletion writes
# the index, and one partition key value takes at most 1,000 writes a second. gc queries each
# shard, so this is also the request floor of a gc run with nothing to do.
GARBAGE_SHARDS: Final = tuple(f"GC#{shard}" for shard in range(4))

PROFILE_SK: Final = "#PROFILE"
REF_SK: Final = "#REF"
LEASE_SK: Final = "#LEASE"
HEARTBEAT_SK: Final = "#HEARTBEAT"
MESSAGE_PREFIX: Final = "MSG#"
UID_PREFIX: Final = "UID#"
# POP4's folders (docs/pop4.md): the directory, each folder's counters, each folder's entries.
FOLDERS_SK: Final = "#FOLDERS"
FOLDER_COUNTS_PREFIX: Final = "#FOLDER#"
FOLDER_MESSAGE_PREFIX: Final = "FMSG#"
PROFILE_RANGE: Final = (FOLDER_COUNTS_PREFIX.rstrip("#"), PROFILE_SK)  # "#FOLDER" .. "#PROFILE"
DIRECTORY_MAILBOX: Final = "MAILBOX"
# Items added by the ingest pipeline (docs/data-model.md, "Ingest items").
POLICY_SK: Final = "#POLICY"
QUARANTINE_PREFIX: Final = "QUA#"
ROUTE_SK: Final = "#ROUTE"
INGEST_SK: Final = "#INGEST"
CHECKPOINT_SK: Final = "#CHECKPOINT"
DIRECTORY_ROUTE: Final = "ROUTE"


def mailbox_pk(address: str) -> str:
    return f"MBX#{address}"


def daemon_pk(daemon: str) -> str:
    return f"DAEMON#{daemon}"


def object_pk(object_key: str) -> str:
    return f"OBJ#{object_key}"


def route_pk(address: str) -> str:
    """An alias (`ROUTE#user@domain`) or a domain's catch-all (`ROUTE#@domain`)."""
    return f"ROUTE#{address}"


def ingest_pk(message_id: str) -> str:
    """The per-message ingest record that gc and reconcile read (the MSGID contract)."""
    return f"MSGID#{message_id}"


def garbage_shard(object_key: str) -> str:
    """The `gc_pk` of an object's reference item: a stable shard of the garbage index."""
    return GARBAGE_SHARDS[zlib.crc32(object_key.encode()) % len(GARBAGE_SHARDS)]


def sweep_pk(name: str) -> str:
    """A scheduled sweep's checkpoint (`popdrop.store.sweeps`): `reconcile`."""
    return f"SWEEP#{name}"


def message_sk(arrived_at: int, uid: str, prefix: str = MESSAGE_PREFIX) -> str:
    """A message's sort key in its mailbox's partition: in the maildrop (`MSG#`), in the
    quarantine (`QUA#`) or in a folder (`folder_prefix`), ordered by arrival (epoch
    milliseconds), then uid."""
    return f"{prefix}{arrived_at:013d}#{uid}"


def folder_prefix(folder: str) -> str:
    """Where a POP4 folder's entries are: `FMSG#<folder id>#`."""
    return f"{FOLDER_MESSAGE_PREFIX}{folder}#"


def uid_sk(uid: str) -> str:
    return f"{UID_PREFIX}{uid}"


# The CreateTable / AWS::DynamoDB::Table properties both sides must agree on.
TABLE_DEFINITION: Final[dict[str, Any]] = {
    "AttributeDefinitions": [
        {"AttributeName": PK, "AttributeType": "S"},
        {"AttributeName": SK, "AttributeType": "S"},
        {"AttributeName": DIR_PK, "AttributeType": "S"},
        {"AttributeName": DIR_SK, "AttributeType": "S"},
        {"AttributeName": GC_PK, "AttributeType": "S"},
        {"AttributeName": GC_AT, "AttributeType": "N"},
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
        },
        {
            "IndexName": GARBAGE_INDEX,
            "KeySchema": [
                {"AttributeName": GC_PK, "KeyType": "HASH"},
                {"AttributeName": GC_AT, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
TIME_TO_LIVE: Final[dict[str, Any]] = {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
