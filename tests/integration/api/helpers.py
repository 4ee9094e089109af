"""What the API tests share: the admin token, the test mailbox, delivering a message."""

from __future__ import annotations

from popdrop.ingest import ingest
from popdrop.model import MessageEntry
from popdrop.store import Store

TOKEN = "admin-token-for-tests"
ADDRESS = "alice@example.test"
PASSWORD_HASH = (
    "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0MTI"
)


def put_message(store: Store, uid: str, data: bytes, *, arrived_at: int) -> MessageEntry:
    """Deliver `data` to the test mailbox through the ingest pipeline, as SES's event would; its
    message id (and so its unique id) is `uid`."""
    key = store.put_incoming(uid, data)
    result = ingest(
        store, message_id=uid, object_key=key, recipients=[ADDRESS], arrived_at=arrived_at
    )
    assert result.delivered == (ADDRESS,)
    entry = store.get_message(ADDRESS, uid)
    assert entry is not None
    return entry
