"""S3 + DynamoDB storage: the only package that talks to AWS (an import-linter contract says so)."""

from popdrop.store.errors import (
    CleanupPending,
    LeaseLost,
    MailboxExists,
    MailboxNotFound,
    ObjectNotFound,
    StorageUnavailable,
    StoreError,
)
from popdrop.store.facade import Store
from popdrop.store.gc import GcReport
from popdrop.store.lease import Lease

__all__ = [
    "CleanupPending",
    "GcReport",
    "Lease",
    "LeaseLost",
    "MailboxExists",
    "MailboxNotFound",
    "ObjectNotFound",
    "StorageUnavailable",
    "Store",
    "StoreError",
]
