"""DynamoDB items <-> model objects, and the keys of every item kind (layout in `schema`)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from popdrop.model import (
    INBOX_ID,
    QUARANTINE_ID,
    VERDICT_KINDS,
    Address,
    AppPassword,
    FolderId,
    Mailbox,
    MessageEntry,
    ScramKeys,
    Summary,
    Verdicts,
)
from popdrop.store import schema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, "AttributeValueTypeDef"]

# Attribute names (besides the keys in `schema`).
ADDRESS: Final = "address"
PASSWORD_HASH: Final = "password_hash"  # noqa: S105 - an attribute name
CREATED_AT: Final = "created_at"
MESSAGE_COUNT: Final = "message_count"
OCTETS: Final = "octets"
CLOSING: Final = "closing"
APOP_SECRET: Final = "apop_secret"  # noqa: S105 - an attribute name
LAST_LOGIN: Final = "last_login"
# Grows with every change to any of the mailbox's listings (docs/engine.md, "Listing cache"); it
# starts at a random value, so a mailbox removed and made again never repeats an old one's.
LISTING_VERSION: Final = "listing_version"
OBJECT_KEY: Final = "object_key"
SIZE: Final = "size"
HEADER_SIZE: Final = "header_size"
SUMMARY: Final = "summary"
ENTRY_SK: Final = "entry_sk"
REFS: Final = "refs"
APP_PASSWORDS: Final = "app_passwords"  # a map: name -> {digest, created_at, last_used_at, ...}
DIGEST: Final = "digest"
LAST_USED_AT: Final = "last_used_at"
LAST_ADDRESS: Final = "last_address"
SCRAM: Final = "scram_sha256"  # a map: salt, iterations, stored_key, server_key
TAG: Final = "tag"
VERDICTS: Final = "verdicts"
DETAILS: Final = (SUMMARY, VERDICTS)  # on an object's reference item (`details_item`)

# Summary fields as stored (a map attribute; empty fields are left out to keep items small).
_SUMMARY_FIELDS: Final = ("sender", "to", "subject", "date", "message_id")
_ARRIVAL_DIGITS: Final = 13  # the arrival time's width in a message's sort key
_NO_SUMMARY: Final = Summary()
_NONE: Final = Verdicts()  # no verdict reported


def s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


def _int(item: Item, name: str) -> int:
    return int(item[name]["N"])


def key(pk: str, sk: str) -> Item:
    return {schema.PK: s(pk), schema.SK: s(sk)}


def profile_key(address: str) -> Item:
    return key(schema.mailbox_pk(address), schema.PROFILE_SK)


def entry_key(entry: MessageEntry) -> Item:
    """Where the entry is: its mailbox's partition, under its folder's prefix (INBOX `MSG#`,
    Quarantine `QUA#`, a POP4 folder `FMSG#<id>#`)."""
    return key(
        schema.mailbox_pk(entry.mailbox),
        schema.message_sk(entry.arrived_at, entry.uid, entry_prefix(entry.folder)),
    )


def entry_prefix(folder: FolderId) -> str:
    if folder == INBOX_ID:
        return schema.MESSAGE_PREFIX
    if folder == QUARANTINE_ID:
        return schema.QUARANTINE_PREFIX
    return schema.folder_prefix(folder)


def entry_folder(sk: str) -> FolderId:
    """The folder of the entry with sort key `sk` (the inverse of `entry_prefix`)."""
    if sk.startswith(schema.FOLDER_MESSAGE_PREFIX):
        return FolderId(sk.split("#", 2)[1])
    return QUARANTINE_ID if sk.startswith(schema.QUARANTINE_PREFIX) else INBOX_ID


def folder_counts_key(address: str, folder: FolderId) -> Item:
    return key(schema.mailbox_pk(address), schema.FOLDER_COUNTS_PREFIX + folder)


def folders_key(address: str) -> Item:
    return key(schema.mailbox_pk(address), schema.FOLDERS_SK)


def quarantine_key(entry: MessageEntry) -> Item:
    """Where a quarantined message's item is: its mailbox's partition, under `QUA#`."""
    sk = schema.message_sk(entry.arrived_at, entry.uid, schema.QUARANTINE_PREFIX)
    return key(schema.mailbox_pk(entry.mailbox), sk)


def marker_key(address: str, uid: str) -> Item:
    return key(schema.mailbox_pk(address), schema.uid_sk(uid))


def reference_key(object_key: str) -> Item:
    return key(schema.object_pk(object_key), schema.REF_SK)


def referenced_object(item: Item) -> str:
    """The object key a reference item (or an index entry of one) counts references to."""
    return item[schema.PK]["S"].removeprefix(schema.object_pk(""))


def profile_item(mailbox: Mailbox) -> Item:
    return {
        **profile_key(mailbox.address),
        # The sparse `directory` index lists profiles only: no other item has these attributes.
        schema.DIR_PK: s(schema.DIRECTORY_MAILBOX),
        schema.DIR_SK: s(mailbox.address),
        ADDRESS: s(mailbox.address),
        PASSWORD_HASH: s(mailbox.password_hash),
        CREATED_AT: n(mailbox.created_at),
        MESSAGE_COUNT: n(mailbox.message_count),
        OCTETS: n(mailbox.octets),
        APP_PASSWORDS: {"M": {ap.name: app_password_item(ap) for ap in mailbox.app_passwords}},
        **({SCRAM: scram_item(mailbox.scram)} if mailbox.scram else {}),
    }


def scram_item(keys: ScramKeys) -> AttributeValueTypeDef:
    return {
        "M": {
            "salt": {"B": keys.salt},
            "iterations": n(keys.iterations),
            "stored_key": {"B": keys.stored_key},
            "server_key": {"B": keys.server_key},
        }
    }


def scram_from_item(value: AttributeValueTypeDef) -> ScramKeys:
    fields = value["M"]
    return ScramKeys(
        salt=bytes(fields["salt"]["B"]),
        iterations=int(fields["iterations"]["N"]),
        stored_key=bytes(fields["stored_key"]["B"]),
        server_key=bytes(fields["server_key"]["B"]),
    )


def mailbox_from_item(item: Item) -> Mailbox:
    return Mailbox(
        address=Address(item[ADDRESS]["S"]),
        password_hash=item[PASSWORD_HASH]["S"],
        created_at=_int(item, CREATED_AT),
        message_count=_int(item, MESSAGE_COUNT),
        octets=_int(item, OCTETS),
        app_passwords=tuple(
            app_password_from_item(name, value["M"])
            for name, value in sorted(item.get(APP_PASSWORDS, {}).get("M", {}).items())
        ),
        scram=scram_from_item(item[SCRAM]) if SCRAM in item else None,
    )


def app_password_item(app_password: AppPassword) -> AttributeValueTypeDef:
    return {"M": {DIGEST: s(app_password.digest), CREATED_AT: n(app_password.created_at)}}


def app_password_from_item(name: str, fields: dict[str, AttributeValueTypeDef]) -> AppPassword:
    last_used = fields.get(LAST_USED_AT)
    return AppPassword(
        name=name,
        digest=fields[DIGEST]["S"],
        created_at=int(fields[CREATED_AT]["N"]),
        last_used_at=int(last_used["N"]) if last_used else None,
        last_address=fields.get(LAST_ADDRESS, {}).get("S", ""),
    )


def entry_item(entry: MessageEntry) -> Item:
    """The entry a login reads: what POP3 needs, and the plus-address tag when there is one. Its
    uid and arrival time are in its sort key; its summary and verdicts, which every recipient of
    the message shares, are on its object's reference item (`details_item`)."""
    return {
        **entry_key(entry),
        OBJECT_KEY: s(entry.object_key),
        SIZE: n(entry.size),
        HEADER_SIZE: n(entry.header_size),
        **({TAG: s(entry.tag)} if entry.tag else {}),
    }


def details_item(entry: MessageEntry) -> Item:
    """What the REST API shows of a message besides its POP3 fields. The summary is written even
    when empty: its presence tells an item with details from one without."""
    summary = {name: s(getattr(entry.summary, name)) for name in _SUMMARY_FIELDS}
    return {
        SUMMARY: {"M": {name: value for name, value in summary.items() if value["S"]}},
        VERDICTS: {"M": verdicts_map(entry.verdicts)},
    }


def has_details(entry: MessageEntry) -> bool:
    """Whether the entry holds details: read from an item that carries them, or made by ingest.
    One read from a lean entry item holds none."""
    return entry.summary != _NO_SUMMARY or entry.verdicts != _NONE


def verdicts_map(verdicts: Verdicts) -> Item:
    """The reported verdicts only (absent ones are left out)."""
    return {kind: s(value) for kind in VERDICT_KINDS if (value := getattr(verdicts, kind))}


def entry_from_item(address: Address, item: Item, details: Item | None = None) -> MessageEntry:
    """The entry of `item`, with the details of `details` (its object's reference item), or of
    `item` itself when it carries them (a quarantine item; an entry written before reference
    items held details); without details when neither does."""
    sk = item[schema.SK]["S"]
    folder = entry_folder(sk)
    arrived_at, uid = _arrival_and_uid(sk, entry_prefix(folder))
    return MessageEntry(
        mailbox=address,
        uid=uid,
        object_key=item[OBJECT_KEY]["S"],
        size=_int(item, SIZE),
        header_size=_int(item, HEADER_SIZE),
        arrived_at=arrived_at,
        tag=item.get(TAG, {}).get("S", ""),
        folder=folder,
        **_details(item if SUMMARY in item else details or {}),
    )


def with_details(entry: MessageEntry, source: Item) -> MessageEntry:
    """`entry` with the details `source` (its object's reference item) holds."""
    return replace(entry, **_details(source))


def _details(source: Item) -> dict[str, Any]:
    """The summary and verdicts of `source`; the absent ones shared, so that a listing of lean
    entries holds no per-entry copies of them."""
    summary = source.get(SUMMARY, {}).get("M", {})
    verdicts = source.get(VERDICTS, {}).get("M", {})
    return {
        "summary": Summary(**{k: v["S"] for k, v in summary.items()}) if summary else _NO_SUMMARY,
        "verdicts": Verdicts(**{k: v["S"] for k, v in verdicts.items()}) if verdicts else _NONE,
    }


def _arrival_and_uid(sk: str, prefix: str) -> tuple[int, str]:
    """`<prefix><arrived ms, 13 digits>#<uid>`: the uid may hold `#`, the time has a fixed width."""
    rest = sk.removeprefix(prefix)
    return int(rest[:_ARRIVAL_DIGITS]), rest[_ARRIVAL_DIGITS + 1 :]


def marker_item(entry: MessageEntry) -> Item:
    """The unique-id marker points at its entry, so a message can be fetched by uid alone."""
    return {**marker_key(entry.mailbox, entry.uid), ENTRY_SK: entry_key(entry)[schema.SK]}


def is_expired(item: Item, now: int) -> bool:
    """True when the item's TTL (epoch seconds) has passed: DynamoDB deletes such items up to days
    late, so every read must skip them itself."""
    return schema.TTL_ATTRIBUTE in item and _int(item, schema.TTL_ATTRIBUTE) <= now
