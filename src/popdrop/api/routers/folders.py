"""A mailbox's POP4 folders (docs/pop4.md, "Managing folders"; admin only): list, create, rename,
move and delete them, and move messages between them, through the same library calls as
`popdrop folder` (`popdrop.folder_admin`). Folder names travel in JSON bodies, where "/" needs no
escaping; only DELETE takes one in its path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from popdrop import folder_admin
from popdrop.api import problems
from popdrop.api.deps import AdminMailbox, AdminStoreDep
from popdrop.api.params import FolderName
from popdrop.api.schemas import MessageOut, MessagePage
from popdrop.faces.faults import DirectoryChanged
from popdrop.folders import MAX_COPIES, SEPARATOR, FolderError, Refusal

router = APIRouter(
    prefix="/mailboxes/{address}/folders",
    tags=["folders"],
    responses=problems.responses(
        problems.NOT_FOUND, problems.FORBIDDEN, problems.FOLDER_CONFLICT, problems.FOLDER_REFUSED
    ),
)

# Each refusal's problem: the folder is not there (404), the folders' state forbids it (409), or
# the request itself cannot be done (422).
_KIND: Final = {
    Refusal.NO_SUCH_FOLDER: problems.NOT_FOUND,
    Refusal.EXISTS: problems.FOLDER_CONFLICT,
    Refusal.NOT_EMPTY: problems.FOLDER_CONFLICT,
    Refusal.HAS_SUBFOLDERS: problems.FOLDER_CONFLICT,
    Refusal.TOO_MANY: problems.FOLDER_CONFLICT,
    Refusal.NAME_PENDING: problems.FOLDER_CONFLICT,
}


class FolderOut(BaseModel):
    name: str
    messages: int
    octets: int  # as POP3 LIST counts them


class NewFolder(BaseModel):
    name: str = Field(description='levels separated by "/", e.g. lists/python')


class RenameFolder(BaseModel):
    name: str
    new_name: str


class MoveFolder(BaseModel):
    name: str
    parent: str = Field(description=f'the new parent, or "{SEPARATOR}" for the top level')


class MoveMessages(BaseModel):
    uids: list[str] = Field(min_length=1, max_length=MAX_COPIES)
    folder: str = Field(description="the folder they go to (INBOX releases quarantined ones)")


class FolderPage(BaseModel):
    data: list[FolderOut]
    has_more: bool = Field(description="always false: a mailbox has at most 100 folders")


@contextmanager
def _answered() -> Iterator[None]:
    """The library's refusals as problem documents; nothing was changed when one is raised."""
    try:
        yield
    except FolderError as error:
        kind = _KIND.get(error.refusal, problems.FOLDER_REFUSED)
        raise problems.ProblemError(kind, str(error)) from None
    except DirectoryChanged:
        raise problems.ProblemError(
            problems.FOLDER_CONFLICT, "the folders changed meanwhile; try again"
        ) from None
    except folder_admin.NoSuchMessage:
        raise problems.not_found() from None


@router.get("")
def list_folders(mailbox: AdminMailbox, store: AdminStoreDep) -> FolderPage:
    """INBOX, Quarantine, then the user's folders by name, each with its messages and octets."""
    folders = [
        FolderOut(name=folder.name, messages=folder.messages, octets=folder.octets)
        for folder in folder_admin.listing(store, mailbox)
    ]
    return FolderPage(data=folders, has_more=False)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_folder(mailbox: AdminMailbox, body: NewFolder, store: AdminStoreDep) -> NewFolder:
    with _answered():
        folder_admin.create(store, mailbox, body.name)
    return body


@router.post("/rename")
def rename_folder(mailbox: AdminMailbox, body: RenameFolder, store: AdminStoreDep) -> RenameFolder:
    """Rename a folder, and the folders under it with it."""
    with _answered():
        folder_admin.rename(store, mailbox, body.name, body.new_name)
    return body


@router.post("/move")
def move_folder(mailbox: AdminMailbox, body: MoveFolder, store: AdminStoreDep) -> MoveFolder:
    with _answered():
        folder_admin.move_folder(store, mailbox, body.name, body.parent)
    return body


@router.post("/messages")
def move_messages(mailbox: AdminMailbox, body: MoveMessages, store: AdminStoreDep) -> MessagePage:
    """Move messages (by uid, from any folder) into `folder`; they keep their uids. Returns them
    as they were before the move."""
    with _answered():
        moved = folder_admin.move_messages(store, mailbox, body.uids, body.folder)
    return MessagePage(data=[MessageOut.of(entry) for entry in moved], has_more=False)


@router.delete("/{name:path}", status_code=status.HTTP_204_NO_CONTENT)
def delete_folder(mailbox: AdminMailbox, name: FolderName, store: AdminStoreDep) -> Response:
    """Delete an empty folder without subfolders."""
    with _answered():
        folder_admin.delete(store, mailbox, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
