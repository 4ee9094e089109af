"""Issue 6: quarantined messages are visible and releasable through the API, and the plus-address
tag is part of a message's listing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event
from popdrop.model import Verdicts
from popdrop.store import Store

from .helpers import ADDRESS, assert_not_found

QUARANTINE = f"/v1/mailboxes/{ADDRESS}/quarantine"
SPAM = b"Subject: win big\r\n\r\nnow\r\n"


def quarantine_spam(store: Store, message_id: str = "spam-1") -> None:
    store.put_incoming(message_id, SPAM)
    event = ses_event(message_id, [ADDRESS], timestamp_ms=1_000, verdicts=Verdicts(spam="FAIL"))
    [result] = ingest_ses_event(store, event)
    assert result.quarantined == (ADDRESS,)


def test_quarantined_messages_are_listed_with_their_reason(admin: TestClient, store: Store) -> None:
    quarantine_spam(store)

    response = admin.get(QUARANTINE)

    assert response.status_code == 200
    [held] = response.json()["data"]
    assert held["reason"] == "spam=FAIL"
    assert held["message"]["uid"] == "spam-1"
    assert held["message"]["summary"]["subject"] == "win big"
    assert held["message"]["verdicts"]["spam"] == "FAIL"
    assert admin.get(f"/v1/mailboxes/{ADDRESS}/messages").json()["data"] == []
    assert admin.get(f"/v1/mailboxes/{ADDRESS}/messages/spam-1").status_code == 404


def test_release_moves_the_message_into_the_maildrop(admin: TestClient, store: Store) -> None:
    quarantine_spam(store)

    response = admin.post(f"{QUARANTINE}/spam-1/release")

    assert response.status_code == 200 and response.json()["uid"] == "spam-1"
    assert admin.get(QUARANTINE).json()["data"] == []
    [listed] = admin.get(f"/v1/mailboxes/{ADDRESS}/messages").json()["data"]
    assert listed["uid"] == "spam-1"
    assert admin.post(f"{QUARANTINE}/spam-1/release").status_code == 404


def test_discard_deletes_the_quarantined_message(admin: TestClient, store: Store) -> None:
    quarantine_spam(store)

    assert admin.delete(f"{QUARANTINE}/spam-1").status_code == 204

    assert admin.get(QUARANTINE).json()["data"] == []
    assert admin.delete(f"{QUARANTINE}/spam-1").status_code == 404


def test_a_delivered_message_is_not_releasable(admin: TestClient, store: Store) -> None:
    store.put_incoming("ok-1", SPAM)
    ingest_ses_event(store, ses_event("ok-1", [ADDRESS], timestamp_ms=1))

    assert admin.post(f"{QUARANTINE}/ok-1/release").status_code == 404
    assert admin.delete(f"{QUARANTINE}/ok-1").status_code == 404
    assert len(admin.get(f"/v1/mailboxes/{ADDRESS}/messages").json()["data"]) == 1


def test_an_unknown_mailbox_is_404(admin: TestClient) -> None:
    assert_not_found(admin.get("/v1/mailboxes/nobody@example.test/quarantine"))


def test_a_message_of_an_unknown_mailbox_is_the_same_404_as_an_unknown_message(
    admin: TestClient,
) -> None:
    unknown_mailbox = "/v1/mailboxes/nobody@example.test/quarantine/spam-1"
    for response in (
        admin.post(f"{unknown_mailbox}/release"),
        admin.delete(unknown_mailbox),
        admin.post(f"{QUARANTINE}/spam-1/release"),
        admin.delete(f"{QUARANTINE}/spam-1"),
    ):
        assert_not_found(response)


def test_the_quarantine_needs_credentials(anonymous: TestClient, store: Store) -> None:
    quarantine_spam(store)

    assert anonymous.get(QUARANTINE).status_code == 401
    assert anonymous.post(f"{QUARANTINE}/spam-1/release").status_code == 401
    assert anonymous.delete(f"{QUARANTINE}/spam-1").status_code == 401


def test_a_message_lists_its_plus_address_tag(admin: TestClient, store: Store) -> None:
    store.put_incoming("tagged", SPAM)
    local, domain = ADDRESS.split("@")
    ingest_ses_event(store, ses_event("tagged", [f"{local}+shop@{domain}"], timestamp_ms=1))

    [listed] = admin.get(f"/v1/mailboxes/{ADDRESS}/messages").json()["data"]

    assert listed["tag"] == "shop"
