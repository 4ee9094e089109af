"""What the store raises: a small closed set, so no caller needs to know botocore.

`StorageUnavailable` is transient (throttling, AWS faults, the endpoint unreachable; botocore has
already retried): answer `-ERR [SYS/TEMP]` (RFC 3206) or let Lambda retry the event. Any other
`StoreError` is permanent until an operator acts (access denied, a missing table or bucket).
"""

from __future__ import annotations


class StoreError(Exception):
    """Storage failed in a way that retrying will not fix."""


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
    it must not commit (RFC 1939 §8 exclusive access; answer -ERR [SYS/TEMP])."""


class CleanupPending(StorageUnavailable):
    """Deleted entries' objects could not be deleted yet. The deletion itself is done (the entries
    are gone); their reference items stay at zero and the next commit or `popdrop gc` finishes."""


class AppPasswordConflict(StoreError):
    """The app password cannot be added (the name is taken, or the mailbox holds the maximum)."""


class AppPasswordNotFound(StoreError):
    """The mailbox has no app password with this name."""
