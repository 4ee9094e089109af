"""What a POP4 session adds to its maildrop (docs/pop4.md): the folders, each folder it has opened
with its own marks, which one is selected, the COPYs to make, and the MIME structures it has read.

Sans-IO like the rest of the session: a command either gets its reply from what is held, or names
what must be read first (`ListFolders`, `OpenFolder`, `ReadStructure`); the session asks its caller
for that (taking the table's LOAD transition), the caller reports what it read (`Session.loaded`),
and the command runs again. Nothing is written before QUIT: `commit()` gathers every folder's marks,
the COPYs and the folder tree's new shape into the one `Commit` of the UPDATE state (RFC 1939 §6).

`FolderSession` holds the folders' state and rules; `FolderCommands` is the session's side of them
(the `Session` class inherits it), which moves the session through its table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Protocol

from popdrop.faces.faults import StoreError
from popdrop.folders import (
    INBOX,
    MAX_COPIES,
    NEW_PREFIX,
    QUARANTINE,
    FolderChanges,
    FolderError,
    FolderListing,
    FolderTree,
    Refusal,
)
from popdrop.mime.ranges import MimeStructure
from popdrop.model import INBOX_ID, QUARANTINE_ID, FolderId, MessageEntry, Snapshot
from popdrop.pop3 import commands as c
from popdrop.pop3 import faults, replies
from popdrop.pop3.actions import (
    Action,
    Commit,
    ListFolders,
    OpenFolder,
    ReadStructure,
    Send,
    SendMessage,
)
from popdrop.pop3.states import Event, State, Trigger
from popdrop.pop3.transaction import NO_SUCH_MESSAGE, Transaction

# MIME structures kept for PART after MIME; each is a few KiB at most (MAX_PARTS parts).
_STRUCTURES_KEPT: Final = 8

POP4_COMMANDS: Final = (
    c.Lfld,
    c.Sfld,
    c.Cfld,
    c.Dfld,
    c.Renf,
    c.Movf,
    c.Move,
    c.Copy,
    c.Mime,
    c.Part,
)
Load = ListFolders | OpenFolder | ReadStructure
Loaded = FolderListing | tuple[MessageEntry, ...] | MimeStructure  # what a Load reads
Outcome = bytes | SendMessage | Load


class FolderSession:
    __slots__ = ("_copies", "_listing", "_opened", "_structures", "_tree", "current")

    def __init__(self, first: Transaction) -> None:
        self.current = first  # the selected folder's transaction: what POP3's commands act on
        self._opened: dict[FolderId, Transaction] = {first.folder: first}
        self._listing: FolderListing | None = None
        self._tree: FolderTree | None = None
        self._copies: list[tuple[MessageEntry, FolderId]] = []
        self._structures: dict[MessageEntry, MimeStructure] = {}

    # What the caller read.

    def listed(self, listing: FolderListing) -> None:
        self._listing, self._tree = listing, FolderTree(listing)

    def opened(self, folder: FolderId, messages: tuple[MessageEntry, ...]) -> None:
        """A folder's snapshot, fixed from now on (as RFC 1939 §8 fixes the maildrop's at login)."""
        self._opened[folder] = Transaction(Snapshot(self.current.mailbox, messages, folder))

    def structure_read(self, entry: MessageEntry, structure: MimeStructure) -> None:
        if len(self._structures) >= _STRUCTURES_KEPT:
            del self._structures[next(iter(self._structures))]
        self._structures[entry] = structure

    def loaded(self, load: Load, result: Loaded) -> None:
        match load, result:
            case ListFolders(), FolderListing():
                self.listed(result)
            case OpenFolder(_, folder), tuple():
                self.opened(folder, result)
            case ReadStructure(entry), MimeStructure():
                self.structure_read(entry, result)
            case _:
                raise TypeError(f"{type(result).__name__} reported for {type(load).__name__}")

    # The commands.

    def execute(self, command: c.Command) -> Outcome:
        match command:
            case c.Mime(number):
                return self._mime(number)
            case c.Part(number, part_id, octets):
                return self._part(number, part_id, octets)
        tree = self._tree
        if tree is None:
            return ListFolders(self.current.mailbox)
        try:
            return self._folder_command(tree, command)
        except FolderError as error:
            return replies.err(error.refusal.value)

    def commit(self) -> Commit:
        """QUIT (RFC 1939 §6): every folder's deletions; and, when anything else changed, the
        moves, the copies and the folder tree's new shape, committed with them."""
        opened = self._opened.values()
        deletions = tuple(entry for folder in opened for entry in folder.deletions())
        tree = self._tree
        changes = FolderChanges(
            moves=tuple(move for folder in opened for move in folder.moves()),
            copies=tuple(self._copies),
            directory=tree.plan() if tree is not None and tree.changed else None,
        )
        return Commit(self.current.mailbox, deletions, changes or None)

    def _folder_command(self, tree: FolderTree, command: c.Command) -> Outcome:
        match command:
            case c.Lfld():
                lines = [f"{name} {count} {octets}" for name, count, octets in self._folders(tree)]
                return replies.multiline_text(replies.ok(f"{len(lines)} folders"), lines)
            case c.Sfld(name):
                return self._select(self._find(tree, name))
            case c.Cfld(name):
                tree.create(name)
                return replies.ok("Folder created.")
            case c.Dfld(name):
                if tree.find(name) == self.current.folder:
                    raise FolderError(Refusal.SELECTED)
                tree.delete(name, holds_messages=self._holds_messages)
                return replies.ok("Folder deleted.")
            case c.Renf(old, new):
                tree.rename(old, new)
                return replies.ok("Folder renamed.")
            case c.Movf(name, parent):
                tree.move(name, parent)
                return replies.ok("Folder moved.")
            case c.Move(number, name):
                return self.current.move(number, self._target(tree, name))
            case c.Copy(number, name):
                return self._copy(number, self._target(tree, name))
        raise AssertionError(f"{type(command).__name__} is not a POP4 command")

    def _folders(self, tree: FolderTree) -> Iterator[tuple[str, int, int]]:
        """LFLD's lines: each folder as this session sees it (its marks taken away, like STAT),
        or as stored for the ones it has not opened; INBOX and Quarantine first."""
        assert self._listing is not None
        stored = {folder.id: folder for folder in self._listing}
        for folder, name in [(INBOX_ID, INBOX), (QUARANTINE_ID, QUARANTINE), *tree.folders()]:
            if (held := self._opened.get(folder)) is not None:
                yield name, held.count, held.octets
            elif (known := stored.get(folder)) is not None:
                yield name, known.messages, known.octets
            else:
                yield name, 0, 0  # made in this session

    def _select(self, folder: FolderId) -> Outcome:
        held = self._opened.get(folder)
        if held is None:
            if not folder.startswith(NEW_PREFIX):
                return OpenFolder(self.current.mailbox, folder)
            self.opened(folder, ())
            held = self._opened[folder]
        self.current = held
        return replies.ok_numbers(held.count, held.octets)

    def _find(self, tree: FolderTree, name: str) -> FolderId:
        folder = tree.find(name)
        if folder is None:
            raise FolderError(Refusal.NO_SUCH_FOLDER)
        return folder

    def _target(self, tree: FolderTree, name: str) -> FolderId:
        """Where MOVE and COPY may send a message: any folder but Quarantine and this one."""
        folder = self._find(tree, name)
        if folder == QUARANTINE_ID:
            raise FolderError(Refusal.NOT_A_TARGET)
        if folder == self.current.folder:
            raise FolderError(Refusal.SAME_FOLDER)
        return folder

    def _copy(self, number: int, folder: FolderId) -> bytes:
        entry = self.current.message(number)
        if entry is None:
            return NO_SUCH_MESSAGE
        if len(self._copies) >= MAX_COPIES:
            raise FolderError(Refusal.TOO_MANY_COPIES)
        self._copies.append((entry, folder))
        return replies.ok(f"Message {number} is copied at QUIT.")

    def _holds_messages(self, folder: FolderId) -> bool:
        """Whether `folder` holds a message now, or will once this session's MOVEs and COPYs
        are made: DFLD refuses it then."""
        held = self._opened.get(folder)
        if held is not None:
            present = held.count
        else:
            assert self._listing is not None
            found = next((f for f in self._listing if f.id == folder), None)
            present = 0 if found is None else found.messages
        return (
            present > 0
            or any(opened.moving_to(folder) for opened in self._opened.values())
            or any(target == folder for _, target in self._copies)
        )

    def _structure(self, number: int) -> tuple[MessageEntry, MimeStructure] | Outcome:
        """Message `number` and its structure, or what to answer or read first."""
        entry = self.current.message(number)
        if entry is None:
            return NO_SUCH_MESSAGE
        structure = self._structures.get(entry)
        return ReadStructure(entry) if structure is None else (entry, structure)

    def _mime(self, number: int) -> Outcome:
        found = self._structure(number)
        if not isinstance(found, tuple):
            return found
        _, structure = found
        lines = [
            " ".join(filter(None, (part.id, part.content_type, str(part.octets), part.filename)))
            for part in structure.parts
        ]
        more = "" if structure.complete else f" (the first {len(lines)})"
        return replies.multiline_text(replies.ok(f"{len(lines)} parts{more}"), lines)

    def _part(self, number: int, part_id: str, octets: int | None) -> Outcome:
        found = self._structure(number)
        if not isinstance(found, tuple):
            return found
        entry, structure = found
        part = structure.part(part_id)
        if part is None:
            return replies.err("No such part.")
        end = part.end if octets is None else min(part.end, part.start + octets)
        status = replies.ok(f"{end - part.start} octets")
        return SendMessage(number, entry, status, part=(part.start, end))


class _Session(Protocol):
    """What `FolderCommands` uses of the session it is part of."""

    _folders: FolderSession | None
    _pending: tuple[c.Command, Load] | None
    _transaction: Transaction | None

    def _go(self, trigger: Trigger) -> None: ...

    def _report(self, event: Event) -> State: ...

    def _answer(self, failed: faults.Failure) -> list[Action]: ...

    def _execute(self, command: c.Command) -> list[Action]: ...


class FolderCommands:
    """The session's POP4 side: a command runs in its `FolderSession`, and what that needs moves
    the session through the table (PART streams: SENDING; a read: LOADING until `loaded`)."""

    __slots__ = ()
    # The session's, set in its __init__.
    _folders: FolderSession | None
    _pending: tuple[c.Command, Load] | None
    _transaction: Transaction | None

    def loaded(self: _Session, result: Loaded | StoreError) -> list[Action]:
        """The outcome of a POP4 read (`ListFolders`, `OpenFolder`, `ReadStructure`): what was
        read, or the fault that stopped it. The command that waited for it then runs again."""
        if self._report(Event.LOADED) is State.CLOSED:
            return []
        pending, self._pending = self._pending, None
        assert self._folders is not None and pending is not None
        command, load = pending
        if isinstance(result, StoreError):
            failed = faults.failure(State.LOADING, result)
            assert failed is not None  # a read that failed has a reply
            return self._answer(failed)
        self._folders.loaded(load, result)
        return self._execute(command)

    def _pop4(self: _Session, folders: FolderSession, command: c.Command) -> list[Action]:
        """A POP4 command: its reply, the PART it streams, or the read it needs first."""
        outcome = folders.execute(command)
        self._transaction = folders.current  # SFLD may have selected another folder
        if isinstance(outcome, bytes):
            return [Send(outcome)]
        if isinstance(outcome, SendMessage):
            self._go(c.Part)
            return [outcome]
        self._pending = (command, outcome)
        self._go(Event.LOAD)
        return [outcome]
