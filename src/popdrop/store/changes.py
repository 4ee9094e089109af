"""Changing a mailbox's messages: deletions (QUIT's, a removal's) and POP4's moves and copies,
packed into as few TransactWriteItems as DynamoDB's 100 items allow.

Each change is a unit whose items are written together, with a condition that fails exactly when
the unit needs no writing (an earlier run of the same commit wrote it, or the message is gone):
`transactions.settle` drops such units and writes the rest, so a commit that stopped part-way is
finished by running it again. Besides its own items a unit adds to counts that each transaction
updates once (an item may appear only once in a transaction): its object's references, its
folders' counters, the profile's counters and listing version. The profile counts every message
of the mailbox but the quarantined ones; a folder's counter item (`#FOLDER#<id>`) counts its own,
INBOX's are the rest. Only entries move: an object never does (DESIGN invariant 8: a copy is one
more reference).

- delete: Delete the entry if present. Counts: refs -1, its folder -1, profile -1 (not for a
  quarantined one).
- move: Delete the source if present, Put the target if absent, point the uid marker at the
  target. Counts: source folder -1, target folder +1, profile +1 when it leaves the quarantine.
- copy: Put the copy (a new uid) if absent, Put its uid marker if absent. Counts: refs +1, target
  folder +1, profile +1.

The entries written are lean (`codec.entry_item`). A source read with its details inline (written
before the object's reference item kept them) hands them to that item in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from popdrop.faces.faults import LeaseLost, MailboxNotFound
from popdrop.model import INBOX_ID, QUARANTINE_ID, Address, FolderId, MessageEntry
from popdrop.store import codec, references, schema, transactions
from popdrop.store.mailboxes import EXISTS, counters
from popdrop.store.transactions import delete_if_present, put_new

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


@dataclass(frozen=True, slots=True)
class Delete:
    entry: MessageEntry


@dataclass(frozen=True, slots=True)
class Move:
    entry: MessageEntry
    target: FolderId


@dataclass(frozen=True, slots=True)
class Copy:
    entry: MessageEntry  # the copy: its target folder and its new uid
    source: MessageEntry


Unit = Delete | Move | Copy


def copy_of(entry: MessageEntry, target: FolderId, seed: str) -> Copy:
    """The copy of `entry` in `target`, with a uid made from `seed` (the lease and the copy's
    place in its commit), so a re-run of the same commit makes the same copy, never a second."""
    digest = hashlib.sha256(f"{seed}|{entry.uid}|{target}".encode()).hexdigest()
    return Copy(replace(entry, folder=target, uid=f"c{digest[:39]}"), entry)


def apply(
    dynamodb: DynamoDBClient,
    table: str,
    address: Address,
    units: Sequence[Unit],
    guard: Callable[[], TransactWriteItemTypeDef] | None = None,
) -> list[Unit]:
    """Write `units` (copies first, so no deletion in an earlier transaction leaves an object
    unreferenced that a copy still needs), each transaction under a fresh `guard()` (the lease
    check, first in it: when it fails, `LeaseLost` and that transaction wrote nothing). The units
    this call wrote."""
    if any(unit.entry.mailbox != address for unit in units):
        raise ValueError(f"changes of another mailbox given for {address}")
    ordered = sorted(units, key=lambda unit: not isinstance(unit, Copy))
    written: list[Unit] = []
    for batch in _batches(ordered, reserved=1 if guard else 0):
        check = None if guard is None else guard()
        try:
            written += transactions.settle(dynamodb, batch, _builder(table, address, check))
        except transactions.SharedConditionFailed as failed:
            if check is not None and failed.codes[0] == transactions.CONDITION_FAILED:
                raise LeaseLost(address) from None
            raise MailboxNotFound(address) from None
    return written


def _builder(
    table: str, address: Address, guard: TransactWriteItemTypeDef | None
) -> Callable[[Sequence[Unit]], list[transactions.Write[Unit]]]:
    return lambda pending: _writes(table, address, pending, guard)


def _batches(units: Sequence[Unit], *, reserved: int) -> list[list[Unit]]:
    """Runs of units whose items, with the counts they update, fit one transaction."""
    batches: list[list[Unit]] = []
    batch: list[Unit] = []
    shared: set[str] = set()
    size = reserved
    for unit in units:
        own, keys = _footprint(unit)
        added = len(keys - shared)
        if batch and size + own + added > transactions.MAX_ITEMS:
            batches.append(batch)
            batch, shared, size = [], set(), reserved
            added = len(keys)
        batch.append(unit)
        shared |= keys
        size += own + added
    if batch:
        batches.append(batch)
    return batches


def _footprint(unit: Unit) -> tuple[int, set[str]]:
    """The unit's own items, and the shared count items it touches (INBOX and Quarantine have no
    counter item of their own: the profile's and the quarantine's items are their counts)."""
    match unit:
        case Delete(entry):
            return 1, {f"obj:{entry.object_key}", "profile", *_counted(entry.folder)}
        case Move(entry, target):
            return 3, {"profile", *_handed(entry), *_counted(entry.folder), *_counted(target)}
        case Copy(entry, _):
            return 2, {f"obj:{entry.object_key}", "profile", *_counted(entry.folder)}


def _handed(entry: MessageEntry) -> tuple[str, ...]:
    """The reference item a move updates: its object's, when the entry holds details to hand."""
    return (f"obj:{entry.object_key}",) if codec.has_details(entry) else ()


def _counted(folder: FolderId) -> tuple[str, ...]:
    return () if folder in (INBOX_ID, QUARANTINE_ID) else (f"dir:{folder}",)


@dataclass(slots=True)
class _Tally:
    """What a transaction's units add to each folder's counters and to the profile's."""

    messages: Counter[FolderId] = field(default_factory=Counter)
    octets: Counter[FolderId] = field(default_factory=Counter)
    profile: list[int] = field(default_factory=lambda: [0, 0])  # messages, octets

    def count(self, folder: FolderId, messages: int, size: int) -> None:
        """`messages` (+1 or -1) of `size` octets enter `folder`: its counter and the profile's,
        which does not count quarantined mail."""
        self.messages[folder] += messages
        self.octets[folder] += messages * size
        if folder != QUARANTINE_ID:
            self.profile[0] += messages
            self.profile[1] += messages * size


def _writes(
    table: str,
    address: Address,
    units: Sequence[Unit],
    guard: TransactWriteItemTypeDef | None,
) -> list[transactions.Write[Unit]]:
    writes: list[transactions.Write[Unit]] = [] if guard is None else [(guard, None)]
    refs: Counter[str] = Counter()
    details = {
        unit.entry.object_key: unit.entry
        for unit in units
        if not isinstance(unit, Delete) and codec.has_details(unit.entry)
    }
    tally = _Tally()
    for unit in units:
        match unit:
            case Delete(entry):
                writes.append((delete_if_present(table, codec.entry_key(entry)), unit))
                refs[entry.object_key] -= 1
                tally.count(entry.folder, -1, entry.size)
            case Move(entry, target):
                moved = replace(entry, folder=target)
                writes += [
                    (delete_if_present(table, codec.entry_key(entry)), unit),
                    (put_new(table, codec.entry_item(moved)), unit),
                    (point_marker(table, moved), unit),
                ]
                tally.count(entry.folder, -1, entry.size)
                tally.count(target, 1, entry.size)
            case Copy(copied, _):
                writes += [
                    (put_new(table, codec.entry_item(copied)), unit),
                    (put_new(table, codec.marker_item(copied)), unit),
                ]
                refs[copied.object_key] += 1
                tally.count(copied.folder, 1, copied.size)
    writes += [
        (_reference(table, key, refs[key], details.get(key)), None)
        for key in sorted(set(details) | {key for key, delta in refs.items() if delta})
    ]
    writes += [
        (folder_counters(table, address, folder, messages, tally.octets[folder]), None)
        for folder, messages in sorted(tally.messages.items())
        if folder not in (INBOX_ID, QUARANTINE_ID) and (messages or tally.octets[folder])
    ]
    if units:  # even when the counts cancel out (a move): the listing version moves on
        messages, octets = tally.profile
        writes.append((counters(table, address, messages, octets, EXISTS), None))
    return writes


def folder_counters(
    table: str, address: str, folder: FolderId, messages: int, octets: int
) -> TransactWriteItemTypeDef:
    """A transaction item adding to a folder's counter item (made by its first ADD)."""
    return {
        "Update": {
            "TableName": table,
            "Key": codec.folder_counts_key(address, folder),
            "UpdateExpression": "ADD #count :messages, #octets :octets",
            "ExpressionAttributeNames": {"#count": codec.MESSAGE_COUNT, "#octets": codec.OCTETS},
            "ExpressionAttributeValues": {
                ":messages": codec.n(messages),
                ":octets": codec.n(octets),
            },
        }
    }


def point_marker(table: str, entry: MessageEntry) -> TransactWriteItemTypeDef:
    """The uid marker follows its message, so the message is found by uid wherever it is."""
    return {
        "Update": {
            "TableName": table,
            "Key": codec.marker_key(entry.mailbox, entry.uid),
            "UpdateExpression": "SET #entry = :sk",
            "ExpressionAttributeNames": {"#entry": codec.ENTRY_SK},
            "ExpressionAttributeValues": {":sk": codec.entry_key(entry)[schema.SK]},
        }
    }


def _reference(
    table: str, key: str, delta: int, details: MessageEntry | None
) -> TransactWriteItemTypeDef:
    """The object's count moved by `delta`, taking `details` when given; one that does not move
    leaves the object referenced (a move's), so it is no garbage."""
    return references.count(
        table, key, delta, collectable_after=0 if delta else None, details=details
    )
