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
from popdrop.store.objects import ObjectBody

__all__ = [
    "CleanupPending",
    "GcReport",
    "Lease",
    "LeaseLost",
    "MailboxExists",
    "MailboxNotFound",
    "ObjectBody",
    "ObjectNotFound",
    "StorageUnavailable",
    "Store",
    "StoreError",
]
