"""The faults every storage face raises: a small closed set, so no consumer needs to know botocore.

`StorageUnavailable` is transient (throttling, AWS faults, the endpoint unreachable; botocore has
already retried): the same request may succeed later. Every other `StoreError` is permanent until
something changes: an operator acts (access denied, a missing table or bucket), or the thing asked
for is not there (`MailboxNotFound`, `ObjectNotFound`, ...).

Each consumer turns them into its own replies in one place: POP3 in `popdrop.pop3.faults`, the REST
API in `popdrop.api.app`, the CLI in `popd.cli`; the ingest Lambda raises them, so Lambda retries.
"""

from __future__ import annotations


class StoreError(Exception):
    """Storage failed: permanently, unless it is a `StorageUnavailable`."""


class StorageUnavailable(StoreError):
    """Storage is unreachable, throttled or failing now; the same request may succeed later."""


class MailboxExists(StoreError):
    """A mailbox with this address already exists (or is still being removed)."""


class MailboxNotFound(StoreError):
    """No mailbox has this address."""


class ObjectNotFound(StoreError):
    """The S3 object a message refers to does not exist."""


class LeaseLost(StoreError):
    """The session no longer holds its maildrop lease (it expired or another session took it over):
    it must not commit (RFC 1939 §8 exclusive access)."""


class DirectoryChanged(StoreError):
    """POP4: the mailbox's folders changed since the change was made (another session, the API):
    nothing was written; make the change again against the folders as they are now."""


class CleanupPending(StorageUnavailable):
    """Deleted entries' objects could not be deleted yet. The deletion itself is done (the entries
    are gone); their reference items stay at zero and the next commit or `popdrop gc` finishes."""


class AppPasswordConflict(StoreError):
    """The app password cannot be added (the name is taken, or the mailbox holds the maximum)."""


class AppPasswordNotFound(StoreError):
    """The mailbox has no app password with this name."""
