"""Everything the POP3 daemon may ask of storage, in one place.

Like Twisted's `IMailboxPOP3`, the face is a handful of operations: look up a login's credentials
(and note an app password's use or a login for LOGIN-DELAY), take and keep the maildrop's lease,
list the snapshot, read a message or a range of it, commit the deletions, release the lease. Every
call is synchronous (the daemon runs it in its thread pool) and raises only the faults of
`popdrop.faces.faults`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from popdrop.folders import FolderChanges, FolderListing
from popdrop.mime.ranges import MimeStructure
from popdrop.model import Address, FolderId, Mailbox, MessageEntry


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login is checked against, from one read of the mailbox profile. The APOP secret is
    kept out of `Mailbox`, so the API's and the CLI's views never carry a plaintext-equivalent
    secret (RFC 1939 §7)."""

    mailbox: Mailbox
    apop_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Lease:
    """A session's hold on a maildrop (RFC 1939 §8 exclusive access across every replica), valid
    until `until_ms` (epoch milliseconds); each renewal extends it by `duration_ms`. `token` is
    the fencing token: a commit under a lease someone else has taken since is refused."""

    mailbox: Address
    owner: str
    token: int
    until_ms: int
    duration_ms: int


class ObjectBody(Protocol):
    """One GetObject's body, read in pieces of the caller's choosing and closed by the caller."""

    def read(self, size: int) -> bytes:
        """Up to `size` octets; b"" at the end."""
        ...

    def close(self) -> None: ...


class MaildropStore(Protocol):
    """The POP3 daemon's storage face."""

    # Login.

    def credentials(self, address: Address) -> Credentials | None:
        """The mailbox's credentials; None when there is no such (open) mailbox."""
        ...

    def record_app_password_use(self, address: Address, name: str, at: int, client: str) -> None:
        """Note when (epoch seconds) and from where the app password `name` last logged in."""
        ...

    def record_login(self, address: Address, now: int, delay: int) -> bool:
        """LOGIN-DELAY (RFC 2449 §6.8): record a login at `now` (epoch seconds) unless the last
        one was less than `delay` seconds before; False when it was."""
        ...

    # The maildrop.

    def acquire_lease(self, address: Address, owner: str, *, seconds: float) -> Lease | None:
        """Take the maildrop for `owner` for `seconds`; None while another owner holds it."""
        ...

    def renew_lease(self, lease: Lease) -> Lease:
        """Extend the hold by its duration from now; raise `LeaseLost` when it was lost."""
        ...

    def release_lease(self, lease: Lease) -> bool:
        """Give the maildrop back; False when the lease had already passed to another session."""
        ...

    def list_messages(self, address: Address) -> tuple[MessageEntry, ...]:
        """The snapshot: every message in arrival order, from one strongly consistent listing."""
        ...

    def open_object(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectBody:
        """GetObject of octets [start, end) (to the end when `end` is None), now; raises
        `ObjectNotFound` when the object is gone."""
        ...

    def commit_deletions(self, lease: Lease, entries: Sequence[MessageEntry]) -> None:
        """The UPDATE state (RFC 1939 §6): delete these entries of the lease's mailbox, and every
        object left unreferenced, under the lease (`LeaseLost` when it no longer holds: nothing
        was deleted). `CleanupPending` when only the objects' deletion failed."""
        ...

    # POP4 (docs/pop4.md): folders and partial retrieval.

    def list_folders(self, address: Address) -> FolderListing:
        """LFLD: every folder with its messages and octets, from two Queries."""
        ...

    def list_folder(self, address: Address, folder: FolderId) -> tuple[MessageEntry, ...]:
        """SFLD: a folder's snapshot, as `list_messages` lists INBOX."""
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
