"""S3 + DynamoDB storage: the only package that talks to AWS (an import-linter contract says so)."""

from popdrop.store.errors import (
    MailboxExists,
    MailboxNotFound,
    ObjectNotFound,
    StorageUnavailable,
    StoreError,
)
from popdrop.store.facade import Store

__all__ = [
    "MailboxExists",
    "MailboxNotFound",
    "ObjectNotFound",
    "StorageUnavailable",
    "Store",
    "StoreError",
]
