"""Everything the REST API may ask of storage: its reads, and the quarantine's admin operations
its admin routes carry out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from popdrop.faces.admin import FolderAdmin, MailboxDirectory, QuarantineAdmin
from popdrop.model import Address, MessageEntry


class ApiStore(MailboxDirectory, QuarantineAdmin, FolderAdmin, Protocol):
    """The REST API's storage face."""

    def list_messages(self, address: Address) -> tuple[MessageEntry, ...]:
        """The mailbox's messages in arrival order (POP3's numbering)."""
        ...

    def get_message(self, address: Address, uid: str) -> MessageEntry | None: ...

    def iter_object(self, key: str) -> Iterator[bytes]:
        """The object's octets in chunks, from one GetObject made when iteration starts."""
        ...

    def download_url(self, key: str, *, seconds: int) -> str:
        """A presigned GetObject URL valid `seconds`, for downloads too large to pass through the
        API (Lambda's response limit). No request is made."""
        ...
