"""Managing a mailbox's POP4 folders from outside a POP3 session: the operator's `popdrop folder`
commands and the REST API's folder routes both call these (docs/pop4.md, "Managing folders"), so
one set of rules (`popdrop.folders.FolderTree`) holds for them and for POP4 sessions alike.

Each call reads the folders, makes its change by the rules and writes it as one change, the way a
POP4 QUIT writes its own. It does not take the maildrop's lease: a change to the folders made
meanwhile by a session (or another call) is refused whole (`DirectoryChanged`), never merged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from popdrop.faces.admin import FolderAdmin
from popdrop.folders import (
    SEPARATOR,
    FolderChanges,
    FolderError,
    FolderListing,
    FolderTree,
    Refusal,
)
from popdrop.model import QUARANTINE_ID, Address, FolderId, MessageEntry

# A change of the folder tree, given the folders as read.
_Change = Callable[[FolderTree, FolderListing], object]


class NoSuchMessage(LookupError):
    """A uid named no message of the mailbox."""


def listing(store: FolderAdmin, address: Address) -> FolderListing:
    return store.list_folders(address)


def create(store: FolderAdmin, address: Address, name: str) -> None:
    _reshape(store, address, lambda tree, _: tree.create(name))


def rename(store: FolderAdmin, address: Address, old: str, new: str) -> None:
    _reshape(store, address, lambda tree, _: tree.rename(old, new))


def move_folder(store: FolderAdmin, address: Address, name: str, parent: str = SEPARATOR) -> None:
    """Move `name` under `parent` (the top level when `parent` is "/")."""
    _reshape(store, address, lambda tree, _: tree.move(name, parent))


def delete(store: FolderAdmin, address: Address, name: str) -> None:
    """Delete an empty folder without subfolders."""

    def change(tree: FolderTree, folders: FolderListing) -> object:
        counts = {folder.id: folder.messages for folder in folders}
        return tree.delete(name, holds_messages=lambda folder: counts.get(folder, 0) > 0)

    _reshape(store, address, change)


def move_messages(
    store: FolderAdmin, address: Address, uids: Sequence[str], target: str
) -> list[MessageEntry]:
    """Move the messages with these uids (from any folder, Quarantine included: that is a
    release) to `target`, keeping their uids; the messages as they were. Messages already there
    are left alone."""
    tree = FolderTree(store.list_folders(address))
    folder = tree.find(target)
    if folder is None:
        raise FolderError(Refusal.NO_SUCH_FOLDER)
    if folder == QUARANTINE_ID:
        raise FolderError(Refusal.NOT_A_TARGET)
    found: list[MessageEntry] = []
    for uid in dict.fromkeys(uids):
        entry = store.find_message(address, uid)
        if entry is None:
            raise NoSuchMessage(uid)
        found.append(entry)
    moves = tuple((entry, FolderId(folder)) for entry in found if entry.folder != folder)
    if moves:
        store.change_folders(address, FolderChanges(moves=moves))
    return found


def _reshape(store: FolderAdmin, address: Address, change: _Change) -> None:
    folders = store.list_folders(address)
    tree = FolderTree(folders)
    change(tree, folders)
    store.change_folders(address, FolderChanges(directory=tree.plan()))
