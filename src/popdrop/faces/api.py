"""Everything the REST API may ask of storage for the routes a mailbox's owner may use too: the
mailbox and its messages (read, page, stream, delete under the maildrop lease), its quarantine,
and the credentials its HTTP Basic logins are checked against. Its admin-only routes use the
admin face (`popdrop.faces.admin`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from popdrop.faces.admin import FolderAdmin, MailboxDirectory, QuarantineAdmin
from popdrop.faces.credentials import CredentialStore
from popdrop.faces.lease import MaildropLease
from popdrop.model import Address, MessageEntry


class ApiStore(
    MailboxDirectory, QuarantineAdmin, FolderAdmin, CredentialStore, MaildropLease, Protocol
):
    """The REST API's storage face."""

    def check_ready(self) -> None:
        """Read from the table and the bucket; a fault when either does not answer."""
        ...

    def messages_newest_first(
        self,
        address: Address,
        *,
        after_uid: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> Iterator[MessageEntry] | None:
        """The maildrop's messages newest first, arrived within [since_ms, until_ms] (epoch
        milliseconds) when given, after the message `after_uid` when given (read lazily, page by
        page); None when `after_uid` was never a message of this maildrop."""
        ...

    def get_message(self, address: Address, uid: str) -> MessageEntry | None: ...

    def iter_object(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The object's octets [start, end) in chunks, from one GetObject made when iteration
        starts; `ObjectNotFound` when it is gone."""
        ...

    def download_url(
        self,
        key: str,
        *,
        seconds: int,
        content_type: str = "message/rfc822",
        disposition: str | None = None,
    ) -> str:
        """A presigned GetObject URL valid `seconds`, for downloads too large to pass through the
        API (Lambda's response limit); the download carries this Content-Type and
        Content-Disposition. No request is made."""
        ...

    def publish_part(self, object_key: str, part: str, data: bytes, content_type: str) -> str:
        """Store one decoded MIME part of a message (once: a second call finds it) under the
        API's own prefix, for a presigned download; its object key. The bucket's lifecycle rule
        removes it a day later."""
        ...
