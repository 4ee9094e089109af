"""Everything the POP3 daemon may ask of storage, in one place.

Like Twisted's `IMailboxPOP3`, the face is a handful of operations: look up a login's credentials
(and note an app password's use or a login for LOGIN-DELAY), keep the daemon's heartbeat, take the
maildrop's lease under it, list the snapshot (or learn that it has not changed), read a message or a
range of it, commit the deletions, release the lease. Every call is synchronous (the daemon runs it
in its thread pool) and raises only the faults of `popdrop.faces.faults`. Logins' credentials
(`faces.credentials`) and the lease with the commit it guards (`faces.lease`) are pieces the REST
API shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from popdrop.faces.credentials import Credentials, CredentialStore
from popdrop.faces.lease import Heartbeat, Lease, MaildropLease
from popdrop.folders import FolderChanges, FolderListing
from popdrop.mime.ranges import MimeStructure
from popdrop.model import Address, FolderId, Listing, MessageEntry

__all__ = ["Credentials", "Heartbeat", "Lease", "MaildropStore", "ObjectBody"]


class ObjectBody(Protocol):
    """One GetObject's body, read in pieces of the caller's choosing and closed by the caller."""

    def read(self, size: int) -> bytes:
        """Up to `size` octets; b"" at the end."""
        ...

    def close(self) -> None: ...


class MaildropStore(CredentialStore, MaildropLease, Protocol):
    """The POP3 daemon's storage face."""

    # Login.

    def record_login(self, address: Address, now: int, delay: int) -> bool:
        """LOGIN-DELAY (RFC 2449 §6.8): record a login at `now` (epoch seconds) unless the last
        one was less than `delay` seconds before; False when it was."""
        ...

    # The maildrop.

    def renew_heartbeat(self, heartbeat: Heartbeat) -> Heartbeat:
        """Keep the heartbeat alive for its duration from now; raise `LeaseLost` when it had
        already run out (every lease it kept is lost)."""
        ...

    def listing_version(self, address: Address) -> int | None:
        """The mailbox's listing version, from one strongly consistent read: it moves on with
        every change to any of its folders, so a listing read at the same version is the same
        (but for entries past `Listing.fresh_until`). None when there is none to compare."""
        ...

    def read_listing(self, address: Address, folder: FolderId) -> Listing:
        """A folder's snapshot (INBOX's at login, another's at SFLD or a folder login): every
        message in arrival order, from one strongly consistent, paginated Query."""
        ...

    def open_object(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectBody:
        """GetObject of octets [start, end) (to the end when `end` is None), now; raises
        `ObjectNotFound` when the object is gone."""
        ...

    # POP4 (docs/pop4.md): folders and partial retrieval.

    def list_folders(self, address: Address) -> FolderListing:
        """LFLD: every folder with its messages and octets, from two Queries."""
        ...

    def mime_structure(self, entry: MessageEntry) -> MimeStructure:
        """MIME and PART: the message's parts and their byte ranges (computed once per object)."""
        ...

    def commit_changes(
        self, lease: Lease, deletions: Sequence[MessageEntry], folders: FolderChanges | None
    ) -> None:
        """`commit_deletions` with a POP4 session's folder changes, under the same lease and
        fencing, re-runnable the same way (`DirectoryChanged` when the folders changed since the
        session read them: nothing was written)."""
        ...
