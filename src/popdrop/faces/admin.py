"""Everything administration may ask of storage: the `popdrop` CLI's operator commands and the
REST API's admin routes. Grouped by what is administered; `AdminStore` is all of it. The value
types are the model's (`popdrop.model`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from popdrop import model
from popdrop.faces.lease import LeaseState
from popdrop.folders import FolderChanges, FolderListing


@dataclass(frozen=True, slots=True)
class GcReport:
    """What one garbage-collection sweep found and did."""

    objects_examined: int  # objects under the incoming prefix
    objects_in_grace: int  # unreferenced but younger than the grace period: left alone
    deleted: tuple[str, ...]  # object keys removed (or, in a dry run, that would be)
    dry_run: bool


class MailboxDirectory(Protocol):
    """Reading mailbox profiles (the API reads them too)."""

    def get_mailbox(self, address: model.Address) -> model.Mailbox | None:
        """None when there is no such mailbox (or it is being removed)."""
        ...

    def list_mailboxes(self) -> list[model.Mailbox]: ...

    def mailboxes_in_order(self, *, after: model.Address | None = None) -> Iterator[model.Mailbox]:
        """Every mailbox by address, after `after` when given, read lazily page by page."""
        ...


class MailboxAdmin(MailboxDirectory, Protocol):
    def create_mailbox(
        self, address: model.Address, password_hash: str, scram: model.ScramKeys | None = None
    ) -> model.Mailbox:
        """Raises `MailboxExists`."""
        ...

    def set_password(
        self, address: model.Address, password_hash: str, scram: model.ScramKeys | None = None
    ) -> None:
        """Replace the password hash and the SCRAM verifier together; `MailboxNotFound`."""
        ...

    def set_apop_secret(self, address: model.Address, secret: str) -> None: ...

    def add_app_password(self, address: model.Address, app_password: model.AppPassword) -> None:
        """Raises `AppPasswordConflict` (name taken, or the maximum reached), `MailboxNotFound`."""
        ...

    def revoke_app_password(self, address: model.Address, name: str) -> None:
        """Raises `AppPasswordNotFound`."""
        ...

    def remove_mailbox(self, address: model.Address) -> int:
        """Delete the mailbox, its messages and its quarantine; how many messages went."""
        ...


class RoutingAdmin(Protocol):
    """Aliases, catch-alls and each mailbox's delivery policy."""

    def put_route(self, route: model.Route) -> None: ...

    def delete_route(self, address: str) -> bool:
        """False when there was no such route."""
        ...

    def list_routes(self) -> list[model.Route]: ...

    def routes_in_order(self, *, after: str | None = None) -> Iterator[model.Route]:
        """Every alias and catch-all by address, after `after` when given, read lazily."""
        ...

    def get_policy(self, address: model.Address) -> model.Policy | None:
        """The mailbox's policy (the default when none was set); None when no such mailbox."""
        ...

    def put_policy(self, address: model.Address, policy: model.Policy) -> None: ...


class QuarantineAdmin(Protocol):
    def list_quarantined(self, address: model.Address) -> list[model.Quarantined]: ...

    def quarantined_newest_first(
        self, address: model.Address, *, after_uid: str | None = None
    ) -> Iterator[model.Quarantined] | None:
        """The quarantine newest first, after the message `after_uid` when given (read lazily);
        None when `after_uid` was never quarantined here."""
        ...

    def release_quarantined(self, address: model.Address, uid: str) -> model.MessageEntry | None:
        """Move the message into the maildrop, past the policy and the quota (an operator
        decided); None when it is not (or no longer) quarantined."""
        ...

    def discard_quarantined(self, address: model.Address, uid: str) -> bool:
        """Delete the quarantined message (and its object when nothing else refers to it);
        False when there is no such message."""
        ...


class FolderAdmin(Protocol):
    """POP4 folders (docs/pop4.md), as the CLI and the API manage them (`popdrop.folder_admin`)."""

    def list_folders(self, address: model.Address) -> FolderListing:
        """Every folder with its messages and octets."""
        ...

    def find_message(self, address: model.Address, uid: str) -> model.MessageEntry | None:
        """The message with this uid in any folder, Quarantine included; None when there is none."""
        ...

    def change_folders(self, address: model.Address, changes: FolderChanges) -> None:
        """Write the change (folders reshaped, messages moved) as a POP4 QUIT does, without the
        maildrop's lease; `DirectoryChanged` when the folders changed since they were read."""
        ...


# Unfiled objects younger than this are left alone by `collect_garbage` (`popdrop gc
# --grace-seconds`, the daily GcFunction): Lambda retries an SES event for up to six hours, and an
# operator who redrives the failure queue is expected to within two days (docs/engine.md).
GC_GRACE_SECONDS: Final = 2 * 24 * 3600


class LeaseAdmin(Protocol):
    """The maildrop lease seen from outside: who holds it, and breaking a stale hold."""

    def lease_state(self, address: model.Address) -> LeaseState | None:
        """Who holds the maildrop now; None when nobody does."""
        ...

    def break_lease(self, address: model.Address) -> bool:
        """End the current hold (its holder can no longer commit); False when there was none."""
        ...


class AdminStore(MailboxAdmin, RoutingAdmin, QuarantineAdmin, LeaseAdmin, FolderAdmin, Protocol):
    """Administration's storage face."""

    def collect_garbage(
        self, *, grace_seconds: float, dry_run: bool = False, full: bool = False
    ) -> GcReport:
        """Delete the objects no entry references (`popdrop gc`, docs/engine.md): those the
        garbage index lists, or (`full`) every object under the incoming prefix."""
        ...
