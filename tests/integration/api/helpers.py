"""What the API tests share: the admin token, the test mailbox, delivering a message, and what a
problem document (RFC 9457) must look like."""

from __future__ import annotations

import httpx

from popdrop.api.callers import CHALLENGE
from popdrop.ingest import ingest
from popdrop.model import MessageEntry
from popdrop.store import Store

TOKEN = "admin-token-for-tests"
ADDRESS = "alice@example.test"
PASSWORD_HASH = (
    "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0MTI"
)
NOT_FOUND = "/problems/not-found"


def put_message(
    store: Store, uid: str, data: bytes, *, arrived_at: int, address: str = ADDRESS
) -> MessageEntry:
    """Deliver `data` to a mailbox through the ingest pipeline, as SES's event would; its message
    id (and so its unique id) is `uid`."""
    key = store.put_incoming(uid, data)
    result = ingest(
        store, message_id=uid, object_key=key, recipients=[address], arrived_at=arrived_at
    )
    assert result.delivered == (address,)
    entry = store.get_message(address, uid)
    assert entry is not None
    return entry


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    """An RFC 9457 problem document of this status and `type` (/problems/<kind>)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["type"] == f"/problems/{kind}"
    assert problem["status"] == status
    assert isinstance(problem["title"], str) and isinstance(problem["detail"], str)
    return problem


def assert_not_found(response: httpx.Response) -> None:
    """The one 404: the same for an unknown mailbox, message or part, and for a mailbox the
    caller may not see."""
    problem = assert_problem(response, 404, "not-found")
    assert problem["detail"] == "no such mailbox, message or part"


def assert_refused(response: httpx.Response) -> None:
    """One reply for every failed authentication: no hint of what was wrong."""
    problem = assert_problem(response, 401, "unauthorized")
    assert problem["detail"] == "credentials are missing or wrong"
    assert response.headers["WWW-Authenticate"] == CHALLENGE
