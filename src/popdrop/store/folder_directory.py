"""A mailbox's POP4 folders in DynamoDB (docs/pop4.md, docs/data-model.md): the directory item
(`#FOLDERS`: folder id -> name, and a version) and each folder's counters (`#FOLDER#<id>`).

Reading: one Query (`sk BETWEEN "#FOLDER" AND "#PROFILE"`) returns the directory, every folder's
counters and the profile (whose counters cover INBOX and every folder), plus one Query of the
quarantine's sizes; INBOX's count is the profile's less the folders'.

Writing a change (`reshape`, `finish`): a folder is only a name in the directory, so creating,
renaming and moving one rewrites that one item, never a message. A change is written in two steps
around its messages' moves, so a crash at any point loses no message:

1. `reshape`: the directory as the change leaves it, but with the folders it deletes still listed
   (a message may still be on its way out of them), under the version the change was made against
   and the maildrop's lease; the item records the change's id.
2. the messages' deletions, moves and copies (`popdrop.store.changes`);
3. `finish`: the deleted folders leave the directory, with their counter items.

Both steps are conditional on the version, so a concurrent change (the API's, while a POP4 session
holds the maildrop) is refused (`DirectoryChanged`) rather than overwritten; and on the change's
id, so a re-run of an interrupted commit finishes it instead of failing. New folders get ids made
from the change's id, so a re-run makes the same folders, never a second set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from popdrop.faces.faults import DirectoryChanged, LeaseLost, MailboxNotFound
from popdrop.folders import (
    NEW_PREFIX,
    DirectoryPlan,
    Folder,
    FolderListing,
    empty_listing,
    folder_key,
)
from popdrop.model import INBOX_ID, QUARANTINE_ID, Address, FolderId
from popdrop.store import codec, queries, schema, transactions
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

FOLDERS: Final = "folders"  # the directory's map: folder id -> name
VERSION: Final = "version"
CHANGE: Final = "change"  # the id of the change that wrote the directory last


def listing(dynamodb: DynamoDBClient, table: str, address: Address) -> FolderListing:
    low, high = schema.PROFILE_RANGE
    pk = schema.mailbox_pk(address)
    items = list(queries.partition(dynamodb, table, pk, low, between=(low, high)))
    by_sk = {item[schema.SK]["S"]: item for item in items}
    profile = by_sk.get(schema.PROFILE_SK)
    if profile is None or codec.CLOSING in profile:
        raise MailboxNotFound(address)
    directory = by_sk.get(schema.FOLDERS_SK)
    names = _names(directory)
    folders = tuple(
        Folder(id_, name, *_counts(by_sk.get(schema.FOLDER_COUNTS_PREFIX + id_)))
        for id_, name in names.items()
    )
    held = list(
        queries.partition(dynamodb, table, pk, schema.QUARANTINE_PREFIX, attributes=(codec.SIZE,))
    )
    messages, octets = _counts(profile)
    base = empty_listing()
    return FolderListing(
        Folder(
            INBOX_ID,
            base.inbox.name,
            messages - sum(folder.messages for folder in folders),
            octets - sum(folder.octets for folder in folders),
        ),
        Folder(
            QUARANTINE_ID,
            base.quarantine.name,
            len(held),
            sum(int(item[codec.SIZE]["N"]) for item in held),
        ),
        tuple(sorted(folders, key=lambda folder: folder.name.casefold())),
        _version(directory),
    )


def forget(dynamodb: DynamoDBClient, table: str, address: Address) -> None:
    """Delete the directory and every folder's counters (a mailbox's removal, once its entries
    are gone), so a mailbox made again at that address starts with no folders."""
    low, high = schema.PROFILE_RANGE
    items = queries.partition(
        dynamodb,
        table,
        schema.mailbox_pk(address),
        low,
        between=(low, high),
        attributes=(schema.SK,),
    )
    for item in items:
        sk = item[schema.SK]["S"]
        if sk == schema.FOLDERS_SK or sk.startswith(schema.FOLDER_COUNTS_PREFIX):
            with aws_errors():
                dynamodb.delete_item(TableName=table, Key=codec.key(schema.mailbox_pk(address), sk))


def folder_named(dynamodb: DynamoDBClient, table: str, address: Address, name: str) -> FolderId:
    """The user's folder called `name` (case-insensitively), INBOX when there is none: where a
    message to `user+name@` is filed. One GetItem of the directory."""
    wanted = folder_key(name)
    for id_, known in _names(_get(dynamodb, table, codec.folders_key(address))).items():
        if folder_key(known) == wanted:
            return id_
    return INBOX_ID


def folder_ids(plan: DirectoryPlan, change: str) -> dict[FolderId, FolderId]:
    """Each folder the change makes (NEW_PREFIX ids) -> its id in storage, made from the change's
    id so that a re-run gives the same."""
    return {
        id_: FolderId(hashlib.sha256(f"{change}|{id_}".encode()).hexdigest()[:16])
        for id_, _ in plan.folders
        if id_.startswith(NEW_PREFIX)
    }


def reshape(
    dynamodb: DynamoDBClient,
    table: str,
    address: Address,
    plan: DirectoryPlan,
    *,
    change: str,
    guard: TransactWriteItemTypeDef | None = None,
) -> None:
    """Step 1: the directory as `plan` leaves it, its deleted folders still listed."""
    ids = folder_ids(plan, change)
    folders = {ids.get(id_, id_): name for id_, name in plan.folders} | dict(plan.deleted)
    _write(
        dynamodb,
        table,
        address,
        folders,
        versions=(plan.version, plan.version + 1),
        change=change,
        guard=guard,
    )


def finish(
    dynamodb: DynamoDBClient, table: str, address: Address, plan: DirectoryPlan, change: str
) -> None:
    """Step 3: the deleted folders leave the directory, and their counters go."""
    if not plan.deleted:
        return
    ids = folder_ids(plan, change)
    folders = {ids.get(id_, id_): name for id_, name in plan.folders}
    extra: list[TransactWriteItemTypeDef] = [
        {"Delete": {"TableName": table, "Key": codec.folder_counts_key(address, id_)}}
        for id_, _ in plan.deleted
    ]
    versions = (plan.version + 1, plan.version + 2)
    _write(dynamodb, table, address, folders, versions=versions, change=change, extra=extra)


def _write(
    dynamodb: DynamoDBClient,
    table: str,
    address: Address,
    folders: Mapping[FolderId, str],
    *,
    versions: tuple[int, int],
    change: str,
    guard: TransactWriteItemTypeDef | None = None,
    extra: list[TransactWriteItemTypeDef] | None = None,
) -> None:
    """Put the directory at `version` if it is at `expected` (`versions`); done already (by this
    change) when it is at `version` or later with this change's id; `DirectoryChanged` otherwise."""
    expected, version = versions
    key = codec.folders_key(address)
    item = key | {
        FOLDERS: {"M": {id_: codec.s(name) for id_, name in folders.items()}},
        VERSION: codec.n(version),
        CHANGE: codec.s(change),
    }
    values = {":version": codec.n(version), ":id": codec.s(change)}
    names = {"#version": VERSION, "#change": CHANGE}
    if expected == 0:
        first, names["#pk"] = "attribute_not_exists(#pk)", schema.PK
    else:
        first, values[":expected"] = "#version = :expected", codec.n(expected)
    put: TransactWriteItemTypeDef = {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": f"{first} OR (#version = :version AND #change = :id)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }
    items = ([] if guard is None else [guard]) + [put] + (extra or [])
    codes = transactions.transact(dynamodb, items)
    if codes is None:
        return
    if guard is not None and codes[0] == transactions.CONDITION_FAILED:
        raise LeaseLost(address)
    current = _get(dynamodb, table, key)
    if _version(current) > version and current is not None and current[CHANGE]["S"] == change:
        return  # a re-run after a later step of this change: it is past this one
    raise DirectoryChanged(f"the folders of {address} changed meanwhile")


def _get(dynamodb: DynamoDBClient, table: str, key: codec.Item) -> codec.Item | None:
    with aws_errors():
        return dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def _names(directory: codec.Item | None) -> dict[FolderId, str]:
    if directory is None:
        return {}
    return {FolderId(id_): value["S"] for id_, value in directory[FOLDERS]["M"].items()}


def _version(directory: codec.Item | None) -> int:
    return 0 if directory is None else int(directory[VERSION]["N"])


def _counts(item: codec.Item | None) -> tuple[int, int]:
    if item is None:
        return 0, 0
    return (
        int(item.get(codec.MESSAGE_COUNT, {"N": "0"})["N"]),
        int(item.get(codec.OCTETS, {"N": "0"})["N"]),
    )
