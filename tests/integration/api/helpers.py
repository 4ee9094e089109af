"""What the API tests share: the admin token, the test mailbox, storing a message like ingest."""

from __future__ import annotations

from popdrop.model import MessageEntry, Summary
from popdrop.store import Store

TOKEN = "admin-token-for-tests"
ADDRESS = "alice@example.test"
PASSWORD_HASH = (
    "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0MTI"
)


def put_message(
    store: Store, uid: str, data: bytes, *, arrived_at: int, subject: str = ""
) -> MessageEntry:
    """Store a message the way ingest does: the object first, then the mailbox entry."""
    key = store.put_incoming(f"message-{uid}", data)
    entry = MessageEntry(
        mailbox=ADDRESS,
        uid=uid,
        object_key=key,
        size=len(data),
        header_size=data.index(b"\r\n\r\n") + 4,
        arrived_at=arrived_at,
        summary=Summary(sender="bob@example.org", to=ADDRESS, subject=subject),
    )
    assert store.add_message(entry)
    return entry
