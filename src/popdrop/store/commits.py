"""One change of a mailbox, written in the order that keeps it crash-safe (docs/pop4.md, "The
commit at QUIT"): the folder directory's new shape (`folder_directory.reshape`), the messages'
copies, moves and deletions (`changes.apply`), the deleted folders' removal
(`folder_directory.finish`), then the objects left unreferenced. QUIT's deletions, a POP4 QUIT's
folder changes, a mailbox's removal and the operator's folder commands all go through `commit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from popdrop.faces.faults import CleanupPending, StoreError
from popdrop.folders import FolderChanges
from popdrop.model import Address, MessageEntry
from popdrop.store import changes, folder_directory
from popdrop.store.references import release_unreferenced, unreferenced

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from popdrop.store.objects import Objects


@dataclass(frozen=True, slots=True)
class Target:
    """Where a change is written: the table, the bucket's objects, the mailbox."""

    dynamodb: DynamoDBClient
    table: str
    objects: Objects
    address: Address


def commit(
    target: Target,
    deletions: Sequence[MessageEntry],
    folders: FolderChanges | None,
    *,
    change: str,
    guard: Callable[[], TransactWriteItemTypeDef] | None,
) -> int:
    """Write the change (`change`: its id, the same when a commit is run again; `guard`: the lease
    check each transaction carries). The number of entries this run deleted."""
    db, table, address = target.dynamodb, target.table, target.address
    unique = list({entry.uid: entry for entry in deletions}.values())
    units: list[changes.Unit] = [changes.Delete(entry) for entry in unique]
    plan = None if folders is None else folders.directory
    if plan is not None:
        check = None if guard is None else guard()
        folder_directory.reshape(db, table, address, plan, change=change, guard=check)
    if folders is not None:
        ids = {} if plan is None else folder_directory.folder_ids(plan, change)
        units += [changes.Move(entry, ids.get(to, to)) for entry, to in folders.moves]
        units += [
            changes.copy_of(entry, ids.get(to, to), f"{change}.{index}")
            for index, (entry, to) in enumerate(folders.copies)
        ]
    written = changes.apply(db, table, address, units, guard)
    if plan is not None:
        folder_directory.finish(db, table, address, plan, change)
    # Every deleted entry's object, not only this run's: an interrupted run may have
    # dereferenced objects without deleting them.
    try:
        delete_unreferenced(db, table, target.objects, sorted({e.object_key for e in unique}))
    except StoreError as error:
        raise CleanupPending(str(error)) from error
    return sum(isinstance(unit, changes.Delete) for unit in written)


def delete_unreferenced(
    dynamodb: DynamoDBClient, table: str, objects: Objects, keys: Sequence[str]
) -> None:
    """Delete those of these objects that nothing references: the object goes before its
    zero-count reference item, so a crash in between leaves the item for `popdrop gc` to find
    (never an object nobody points at)."""
    garbage = unreferenced(dynamodb, table, keys)
    objects.delete(garbage)
    release_unreferenced(dynamodb, table, garbage)
