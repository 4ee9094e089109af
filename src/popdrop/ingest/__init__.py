"""Recipients -> mailbox entries: the one path every message takes into popdrop.

Used by the ingest Lambda (SES and S3 events), the reconcile sweep, the local SMTP stand-in and
`popdrop deliver`. `pipeline` files a message exactly once per mailbox, `addressing` resolves
recipients (aliases, catch-alls, plus-addressing), `headers` reads the header block, `reconcile`
finds stored messages whose event was lost.
"""

from popdrop.ingest.headers import (
    HEAD_READ,
    HEADER_LIMIT,
    SUMMARY_LIMIT,
    header_block_size,
    new_message_id,
    parse_summary,
    unique_id,
)
from popdrop.ingest.pipeline import (
    MAX_MESSAGE_SIZE,
    MAX_STORED_SIZE,
    TRACE_ALLOWANCE,
    IngestResult,
    ingest,
    ingest_event,
    ingest_object,
    ingest_s3_event,
    ingest_ses_event,
)

__all__ = [
    "HEADER_LIMIT",
    "HEAD_READ",
    "MAX_MESSAGE_SIZE",
    "MAX_STORED_SIZE",
    "SUMMARY_LIMIT",
    "TRACE_ALLOWANCE",
    "IngestResult",
    "header_block_size",
    "ingest",
    "ingest_event",
    "ingest_object",
    "ingest_s3_event",
    "ingest_ses_event",
    "new_message_id",
    "parse_summary",
    "unique_id",
]
