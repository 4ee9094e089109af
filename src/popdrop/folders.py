"""Server-side folders (the POP4 extension, docs/pop4.md): names, limits, a mailbox's folders, the
rules every change obeys, and the changes committed at once. Pure: no IO.

Every mailbox has two system folders: INBOX, the maildrop POP3 serves, and Quarantine, the messages
its delivery policy kept out (a view over the quarantine's items). A user's folders nest with "/"
and are created, renamed, moved and deleted through one `FolderTree`, whichever way the change comes
(a POP4 session, the REST API, the CLI), so one set of rules holds everywhere. A tree collects the
changes; `FolderChanges` carries them, with the messages moved and copied, to the store, which
commits them together under the maildrop's lease.

Names compare case-insensitively (after Unicode NFC normalisation), as mail users expect of folder
names and as plus-addressed mail needs (`alice+News@` arrives lower-cased); a folder keeps the
spelling it was given.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Final

from popdrop.model import INBOX_ID, QUARANTINE_ID, FolderId, MessageEntry

INBOX: Final = "INBOX"
QUARANTINE: Final = "Quarantine"
SEPARATOR: Final = "/"
MAX_NAME_OCTETS: Final = 200  # a whole name, "/" included, in UTF-8
MAX_DEPTH: Final = 8  # levels: "a/b/c" is three
MAX_FOLDERS: Final = 100  # a user's folders per mailbox, besides INBOX and Quarantine
# COPYs one change may carry (a session's, or one API call's): the rest of a change is bounded by
# the messages and folders it names.
MAX_COPIES: Final = 1000
# A folder made by the change that names it, before the store gives it its id.
NEW_PREFIX: Final = "new:"


class Refusal(enum.Enum):
    """Why a folder change is refused; the value is the text every interface shows."""

    INVALID_NAME = "Invalid folder name."
    NAME_TOO_LONG = f"Folder name longer than {MAX_NAME_OCTETS} octets."
    TOO_DEEP = f"Folders nest at most {MAX_DEPTH} levels deep."
    TOO_MANY = f"A mailbox holds at most {MAX_FOLDERS} folders."
    NO_SUCH_FOLDER = "No such folder."
    NO_PARENT = "No such parent folder."
    EXISTS = "Folder exists."
    RESERVED = "INBOX and Quarantine are system folders."
    NOT_EMPTY = "Folder holds messages; move them first."
    HAS_SUBFOLDERS = "Folder has subfolders."
    INTO_ITSELF = "A folder cannot move into itself."
    SELECTED = "Folder is selected; select another first."
    NAME_PENDING = "That name was deleted in this session; reuse it after QUIT."
    SAME_FOLDER = "Message is already in that folder."
    NOT_A_TARGET = "Quarantine takes no messages."
    TOO_MANY_COPIES = f"At most {MAX_COPIES} copies per session."


class FolderError(ValueError):
    """A folder change the rules refuse; nothing was changed."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


def folder_name(text: str) -> str:
    """`text` as a folder name (NFC), or raise FolderError: UTF-8 text without control characters
    or spaces, levels separated by "/" and none empty, at most MAX_NAME_OCTETS and MAX_DEPTH."""
    name = unicodedata.normalize("NFC", text)
    if not name or not all(ch.isprintable() and not ch.isspace() for ch in name):
        raise FolderError(Refusal.INVALID_NAME)
    levels = name.split(SEPARATOR)
    if not all(levels):
        raise FolderError(Refusal.INVALID_NAME)
    if len(name.encode("utf-8")) > MAX_NAME_OCTETS:
        raise FolderError(Refusal.NAME_TOO_LONG)
    if len(levels) > MAX_DEPTH:
        raise FolderError(Refusal.TOO_DEEP)
    return name


def folder_key(name: str) -> str:
    """What two names must share to name one folder."""
    return unicodedata.normalize("NFC", name).casefold()


def system_folder(name: str) -> FolderId | None:
    """INBOX's or Quarantine's id when `name` names one of them."""
    return {folder_key(INBOX): INBOX_ID, folder_key(QUARANTINE): QUARANTINE_ID}.get(
        folder_key(name)
    )


@dataclass(frozen=True, slots=True)
class Folder:
    """One folder and what it holds (the messages' octets as LIST counts them)."""

    id: FolderId
    name: str
    messages: int = 0
    octets: int = 0


@dataclass(frozen=True, slots=True)
class FolderListing:
    """A mailbox's folders as storage holds them: INBOX, Quarantine, then the user's folders by
    name. `version` is the directory's (0: never written), so a change can tell it is the next."""

    inbox: Folder
    quarantine: Folder
    folders: tuple[Folder, ...] = ()
    version: int = 0

    def __iter__(self) -> Iterator[Folder]:
        yield self.inbox
        yield self.quarantine
        yield from self.folders

    def find(self, name: str) -> Folder | None:
        key = folder_key(name)
        return next((folder for folder in self if folder_key(folder.name) == key), None)


def empty_listing(version: int = 0) -> FolderListing:
    return FolderListing(Folder(INBOX_ID, INBOX), Folder(QUARANTINE_ID, QUARANTINE), (), version)


@dataclass(frozen=True, slots=True)
class DirectoryPlan:
    """The user's folders as they must be after a change: every folder with its final name (those
    made by the change have ids starting with NEW_PREFIX), the folders to delete once the change's
    messages are moved out of them, and the directory version the change was made against.
    `reshaped`: a folder was made, renamed or moved (not only deleted)."""

    folders: tuple[tuple[FolderId, str], ...]
    deleted: tuple[tuple[FolderId, str], ...]
    version: int
    reshaped: bool = True


@dataclass(frozen=True, slots=True)
class FolderChanges:
    """What one change does besides deleting messages: messages moved or copied (each with its
    target folder) and the folder directory's new shape. Metadata only: no object is copied."""

    moves: tuple[tuple[MessageEntry, FolderId], ...] = ()
    copies: tuple[tuple[MessageEntry, FolderId], ...] = ()
    directory: DirectoryPlan | None = None

    def __bool__(self) -> bool:
        return bool(self.moves or self.copies or self.directory)


class FolderTree:
    """A mailbox's user folders as one change sees them, changed in memory by the rules; `plan()`
    is what the store must write. The system folders are never changed."""

    __slots__ = ("_created", "_deleted", "_names", "_original", "_version")

    def __init__(self, listing: FolderListing) -> None:
        self._names: dict[FolderId, str] = {folder.id: folder.name for folder in listing.folders}
        self._original = dict(self._names)
        self._deleted: dict[FolderId, str] = {}  # existing folders deleted by this change
        self._created = 0
        self._version = listing.version

    @property
    def changed(self) -> bool:
        return self._names != self._original or bool(self._deleted)

    def find(self, name: str) -> FolderId | None:
        """The folder `name` names (INBOX and Quarantine included), or None."""
        found = system_folder(name)
        if found is not None:
            return found
        key = folder_key(name)
        return next((id_ for id_, known in self._names.items() if folder_key(known) == key), None)

    def name(self, folder: FolderId) -> str:
        if folder == INBOX_ID:
            return INBOX
        if folder == QUARANTINE_ID:
            return QUARANTINE
        return self._names[folder]

    def folders(self) -> list[tuple[FolderId, str]]:
        """The user's folders, by name."""
        return sorted(self._names.items(), key=lambda pair: folder_key(pair[1]))

    def create(self, text: str) -> FolderId:
        name = folder_name(text)
        self._check_free(name, [name], moving=())
        if len(self._names) >= MAX_FOLDERS:
            raise FolderError(Refusal.TOO_MANY)
        self._created += 1
        folder = FolderId(f"{NEW_PREFIX}{self._created}")
        self._names[folder] = name
        return folder

    def rename(self, old: str, new: str) -> None:
        """Rename `old`, and with it every folder under it, to `new` (which may lie under another
        parent: RENF moves as well as renames)."""
        folder = self._user_folder(old)
        target = folder_name(new).split(SEPARATOR)
        source = self._names[folder].split(SEPARATOR)
        if _keys(target[: len(source)]) == _keys(source) and len(target) > len(source):
            raise FolderError(Refusal.INTO_ITSELF)
        subtree = {
            id_: SEPARATOR.join(target + levels[len(source) :])
            for id_, name in self._names.items()
            if _keys((levels := name.split(SEPARATOR))[: len(source)]) == _keys(source)
        }
        renamed = [folder_name(name) for name in subtree.values()]
        self._check_free(subtree[folder], renamed, moving=subtree.keys())
        self._names.update(subtree)

    def move(self, name: str, parent: str) -> None:
        """MOVF: `name` goes under `parent`, or to the top level when `parent` is "/"."""
        leaf = self._names[self._user_folder(name)].split(SEPARATOR)[-1]
        if parent == SEPARATOR:
            self.rename(name, leaf)
            return
        if system_folder(parent) is not None:
            raise FolderError(Refusal.RESERVED)
        under = self.find(parent)
        if under is None:
            raise FolderError(Refusal.NO_PARENT)
        self.rename(name, self._names[under] + SEPARATOR + leaf)

    def delete(self, name: str, *, holds_messages: Callable[[FolderId], bool]) -> FolderId:
        """Delete an empty folder without subfolders; `holds_messages` says whether a folder holds
        (or will hold, once the change is committed) any message."""
        folder = self._user_folder(name)
        prefix = _keys(self._names[folder].split(SEPARATOR))
        if any(
            _keys(other.split(SEPARATOR))[: len(prefix)] == prefix and id_ != folder
            for id_, other in self._names.items()
        ):
            raise FolderError(Refusal.HAS_SUBFOLDERS)
        if holds_messages(folder):
            raise FolderError(Refusal.NOT_EMPTY)
        removed = self._names.pop(folder)
        if not folder.startswith(NEW_PREFIX):
            self._deleted[folder] = removed
        return folder

    def plan(self) -> DirectoryPlan:
        kept = {id_: name for id_, name in self._original.items() if id_ not in self._deleted}
        return DirectoryPlan(
            tuple(self.folders()),
            tuple(sorted(self._deleted.items())),
            self._version,
            reshaped=self._names != kept,
        )

    def _user_folder(self, name: str) -> FolderId:
        if system_folder(name) is not None:
            raise FolderError(Refusal.RESERVED)
        folder = self.find(name)
        if folder is None:
            raise FolderError(Refusal.NO_SUCH_FOLDER)
        return folder

    def _check_free(self, top: str, names: list[str], *, moving: Collection[FolderId]) -> None:
        """`names` (`top` and the folders under it) are free for the folders in `moving`, which
        are being renamed to them, and `top`'s parent exists."""
        others = {folder_key(n) for id_, n in self._names.items() if id_ not in moving}
        pending = {folder_key(n) for n in self._deleted.values()}
        for name in names:
            levels = name.split(SEPARATOR)
            if system_folder(levels[0]) is not None:
                raise FolderError(Refusal.RESERVED)
            key = folder_key(name)
            if key in others:
                raise FolderError(Refusal.EXISTS)
            if key in pending:
                raise FolderError(Refusal.NAME_PENDING)
        levels = top.split(SEPARATOR)
        if len(levels) > 1 and folder_key(SEPARATOR.join(levels[:-1])) not in others:
            raise FolderError(Refusal.NO_PARENT)


def _keys(levels: list[str]) -> list[str]:
    return [folder_key(level) for level in levels]
