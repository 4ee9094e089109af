"""A mailbox's POP4 folders (docs/pop4.md, "Managing folders"): list, create, rename, move and
delete them, and move messages between them, through the same library calls as `popdrop folder`
(`popdrop.folder_admin`). Folder names travel in JSON bodies, where "/" needs no escaping; only
DELETE takes one in its path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field

from popdrop import folder_admin
from popdrop.api.deps import KnownMailbox, StoreDep
from popdrop.api.schemas import Error, MessageOut
from popdrop.faces.faults import DirectoryChanged
from popdrop.folders import MAX_COPIES, SEPARATOR, FolderError, Refusal

router = APIRouter(
    prefix="/mailboxes/{address}/folders",
    tags=["folders"],
    responses={
        status.HTTP_404_NOT_FOUND: {"model": Error},
        status.HTTP_409_CONFLICT: {"model": Error},
        status.HTTP_422_UNPROCESSABLE_CONTENT: {"model": Error},
    },
)

# Each refusal's status: the folder is not there (404), the folders' state forbids it (409), or
# the request itself cannot be done (422).
_STATUS: Final = {
    Refusal.NO_SUCH_FOLDER: status.HTTP_404_NOT_FOUND,
    Refusal.EXISTS: status.HTTP_409_CONFLICT,
    Refusal.NOT_EMPTY: status.HTTP_409_CONFLICT,
    Refusal.HAS_SUBFOLDERS: status.HTTP_409_CONFLICT,
    Refusal.TOO_MANY: status.HTTP_409_CONFLICT,
    Refusal.NAME_PENDING: status.HTTP_409_CONFLICT,
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


@contextmanager
def _answered() -> Iterator[None]:
    """The library's refusals as HTTP errors; nothing was changed when one is raised."""
    try:
        yield
    except FolderError as error:
        code = _STATUS.get(error.refusal, status.HTTP_422_UNPROCESSABLE_CONTENT)
        raise HTTPException(code, detail=str(error)) from None
    except DirectoryChanged:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="folders changed meanwhile; try again"
        ) from None
    except folder_admin.NoSuchMessage:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="message not found") from None


@router.get("")
def list_folders(mailbox: KnownMailbox, store: StoreDep) -> list[FolderOut]:
    """INBOX, Quarantine, then the user's folders by name, each with its messages and octets."""
    return [
        FolderOut(name=folder.name, messages=folder.messages, octets=folder.octets)
        for folder in folder_admin.listing(store, mailbox)
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_folder(mailbox: KnownMailbox, body: NewFolder, store: StoreDep) -> NewFolder:
    with _answered():
        folder_admin.create(store, mailbox, body.name)
    return body


@router.post("/rename")
def rename_folder(mailbox: KnownMailbox, body: RenameFolder, store: StoreDep) -> RenameFolder:
    """Rename a folder, and the folders under it with it."""
    with _answered():
        folder_admin.rename(store, mailbox, body.name, body.new_name)
    return body


@router.post("/move")
def move_folder(mailbox: KnownMailbox, body: MoveFolder, store: StoreDep) -> MoveFolder:
    with _answered():
        folder_admin.move_folder(store, mailbox, body.name, body.parent)
    return body


@router.post("/messages")
def move_messages(mailbox: KnownMailbox, body: MoveMessages, store: StoreDep) -> list[MessageOut]:
    """Move messages (by uid, from any folder) into `folder`; they keep their uids. Returns them
    as they were before the move."""
    with _answered():
        moved = folder_admin.move_messages(store, mailbox, body.uids, body.folder)
    return [MessageOut.of(entry) for entry in moved]


@router.delete("/{name:path}", status_code=status.HTTP_204_NO_CONTENT)
def delete_folder(mailbox: KnownMailbox, name: str, store: StoreDep) -> Response:
    """Delete an empty folder without subfolders."""
    with _answered():
        folder_admin.delete(store, mailbox, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
