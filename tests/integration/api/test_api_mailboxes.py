"""/v1/mailboxes: mailboxes and their messages, from the real store on moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import boto3
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from popdrop.api.routers import content, delivery, leases, mailboxes, messages, quarantine
from popdrop.faces.faults import StorageUnavailable
from popdrop.settings import Settings
from popdrop.store import Store

from .helpers import ADDRESS, PASSWORD_HASH, assert_not_found, assert_problem, put_message

MESSAGES = f"/v1/mailboxes/{ADDRESS}/messages"
FIRST = b"From: bob@example.org\r\nTo: alice@example.test\r\nSubject: first\r\n\r\nhello\r\n"
# Larger than one 64 KiB chunk, so /raw streams it in pieces.
SECOND = (
    b"From: bob@example.org\r\nTo: alice@example.test\r\nSubject: second\r\n\r\n"
    + b"x" * 70
    + b"\r\n" * 2000
)


def storage_down(*args: object, **kwargs: object) -> object:
    raise StorageUnavailable("DynamoDB did not answer")


class BrokenStream:
    """A lazy object stream whose GetObject fails: opening it succeeds, the first read raises."""

    def __iter__(self) -> BrokenStream:
        return self

    def __next__(self) -> bytes:
        raise StorageUnavailable("S3 did not answer")


def test_mailboxes_are_listed_with_their_counters_and_creation_time(
    admin: TestClient, store: Store
) -> None:
    put_message(store, "u1", FIRST, arrived_at=1_700_000_000_000)

    response = admin.get("/v1/mailboxes")

    assert response.status_code == 200
    (mailbox,) = response.json()["data"]
    stored = store.get_mailbox(ADDRESS)
    assert stored is not None
    assert set(mailbox) == {"address", "message_count", "octets", "created_at"}
    assert (mailbox["address"], mailbox["message_count"], mailbox["octets"]) == (
        ADDRESS,
        1,
        len(FIRST),
    )
    created_at = datetime.fromisoformat(mailbox["created_at"])
    assert created_at == datetime.fromtimestamp(stored.created_at, UTC)


def test_the_mailbox_list_never_contains_a_password_hash(admin: TestClient) -> None:
    body = admin.get("/v1/mailboxes").text
    assert "password" not in body
    assert PASSWORD_HASH not in body
    assert "scrypt" not in body


def test_messages_are_listed_newest_first_with_their_metadata(
    admin: TestClient, store: Store
) -> None:
    put_message(store, "later", SECOND, arrived_at=1_700_000_000_500)
    put_message(store, "earlier", FIRST, arrived_at=1_700_000_000_123)

    response = admin.get(MESSAGES)

    assert response.status_code == 200
    messages = response.json()["data"]
    assert [m["uid"] for m in messages] == ["later", "earlier"]
    assert messages[1] == {
        "uid": "earlier",
        "size": len(FIRST),
        "header_size": FIRST.index(b"\r\n\r\n") + 4,
        "arrived_at": "2023-11-14T22:13:20.123000Z",
        "summary": {
            "sender": "bob@example.org",
            "to": ADDRESS,
            "subject": "first",
            "date": "",
            "message_id": "",
        },
        "tag": "",
        "verdicts": dict.fromkeys(("spam", "virus", "spf", "dkim", "dmarc")),
    }


def test_an_empty_mailbox_lists_no_messages(admin: TestClient) -> None:
    response = admin.get(MESSAGES)
    assert response.status_code == 200
    assert response.json() == {"data": [], "has_more": False}


def test_the_address_in_the_path_is_matched_case_insensitively(
    admin: TestClient, store: Store
) -> None:
    put_message(store, "u1", FIRST, arrived_at=1_700_000_000_000)
    response = admin.get(f"/v1/mailboxes/{ADDRESS.upper()}/messages")
    assert response.status_code == 200
    assert [m["uid"] for m in response.json()["data"]] == ["u1"]


def test_one_message_has_the_same_metadata_as_in_the_list(admin: TestClient, store: Store) -> None:
    put_message(store, "u1", FIRST, arrived_at=1_700_000_000_000)

    response = admin.get(f"{MESSAGES}/u1")

    assert response.status_code == 200
    detail = response.json()
    headers, parts = detail.pop("headers"), detail.pop("parts")
    assert detail == admin.get(MESSAGES).json()["data"][0]
    assert [h["name"] for h in headers] == ["From", "To", "Subject"]
    assert [(p["id"], p["content_type"], p["size"]) for p in parts] == [("1", "text/plain", 7)]
    assert "object_key" not in response.text


@pytest.mark.parametrize("data", [FIRST, SECOND], ids=["one-chunk", "several-chunks"])
def test_raw_returns_the_stored_bytes_as_message_rfc822(
    admin: TestClient, store: Store, data: bytes
) -> None:
    put_message(store, "u1", data, arrived_at=1_700_000_000_000)

    response = admin.get(f"{MESSAGES}/u1/raw")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "message/rfc822"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.content == data


@pytest.mark.parametrize(
    "path",
    [
        "/v1/mailboxes/nobody@example.test",
        "/v1/mailboxes/nobody@example.test/messages",
        "/v1/mailboxes/nobody@example.test/messages/u1",
        "/v1/mailboxes/nobody@example.test/messages/u1/raw",
        "/v1/mailboxes/nobody@example.test/quarantine",
        f"{MESSAGES}/no-such-uid",
        f"{MESSAGES}/no-such-uid/raw",
        f"{MESSAGES}/no-such-uid/html",
        f"{MESSAGES}/no-such-uid/parts/1",
        "/v1/no-such-route",
    ],
)
def test_an_unknown_mailbox_or_message_is_the_same_404_problem(
    admin: TestClient, path: str
) -> None:
    assert_not_found(admin.get(path))


def test_every_route_under_a_mailbox_takes_it_through_the_access_dependency() -> None:
    """One check (`popdrop.api.deps`: the caller may reach it, and it exists), so no route can
    forget it."""
    routes = [
        route
        for router in (
            mailboxes.router,
            messages.router,
            content.router,
            quarantine.router,
            leases.router,
            delivery.policies,
        )
        for route in router.routes
        if isinstance(route, APIRoute) and "{address}" in route.path
    ]
    assert len(routes) == 20
    for route in routes:
        calls = [getattr(dep.call, "__name__", "") for dep in route.dependant.dependencies]
        assert "mailbox" in calls, route.path


def test_a_message_whose_object_is_gone_is_404(
    admin: TestClient, store: Store, settings: Settings
) -> None:
    """The entry was read, then a POP3 QUIT deleted the message before its object was."""
    entry = put_message(store, "u1", FIRST, arrived_at=1_700_000_000_000)
    boto3.client("s3").delete_object(Bucket=settings.bucket, Key=entry.object_key)

    assert_not_found(admin.get(f"{MESSAGES}/u1/raw"))


@pytest.mark.parametrize(
    "path",
    [
        "/v1/mailboxes/not-an-address/messages",
        "/v1/mailboxes/two@at@example.test/messages/u1",
        f"{MESSAGES}/{'u' * 71}",  # RFC 1939 §7: a unique id has at most 70 characters
        f"{MESSAGES}/%C3%A9/raw",  # and only printable ASCII
    ],
)
def test_an_invalid_address_or_unique_id_is_422(admin: TestClient, path: str) -> None:
    problem = assert_problem(admin.get(path), 422, "invalid-request")
    assert problem["errors"]


@pytest.mark.parametrize(
    ("method", "fault", "path"),
    [
        ("mailboxes_in_order", storage_down, "/v1/mailboxes"),
        ("get_mailbox", storage_down, MESSAGES),
        ("get_message", storage_down, f"{MESSAGES}/u1"),
        ("iter_object", storage_down, f"{MESSAGES}/u1/raw"),
        ("iter_object", lambda *args, **kwargs: BrokenStream(), f"{MESSAGES}/u1/raw"),
    ],
    ids=["list", "mailbox", "message", "raw-open", "raw-first-read"],
)
def test_a_storage_fault_is_503_with_a_json_error(
    admin: TestClient,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    fault: Callable[..., object],
    path: str,
) -> None:
    put_message(store, "u1", FIRST, arrived_at=1_700_000_000_000)
    monkeypatch.setattr(Store, method, fault)

    response = admin.get(path)

    problem = assert_problem(response, 503, "storage-unavailable")
    assert problem["detail"] == "storage is unavailable, try again later"
    assert "did not answer" not in response.text
