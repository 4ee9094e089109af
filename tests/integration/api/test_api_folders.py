"""Issue 14: a mailbox's POP4 folders through the REST API (admin only): list, create, rename,
move, delete, and messages moved between folders, with the rules' refusals as 404/409/422."""

from __future__ import annotations

from fastapi.testclient import TestClient

from popdrop.store import Store
from tests.support import deliver

from .helpers import ADDRESS

FOLDERS = f"/v1/mailboxes/{ADDRESS}/folders"
MESSAGE = b"From: a@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"


def _names(admin: TestClient) -> list[tuple[str, int]]:
    return [(f["name"], f["messages"]) for f in admin.get(FOLDERS).json()["data"]]


def test_folders_are_listed_created_renamed_moved_and_deleted(
    admin: TestClient, store: Store
) -> None:
    deliver(store, MESSAGE, ADDRESS)
    assert admin.get(FOLDERS).json() == {
        "data": [
            {"name": "INBOX", "messages": 1, "octets": len(MESSAGE)},
            {"name": "Quarantine", "messages": 0, "octets": 0},
        ],
        "has_more": False,
    }
    assert admin.post(FOLDERS, json={"name": "lists"}).status_code == 201
    assert admin.post(FOLDERS, json={"name": "py"}).status_code == 201
    assert admin.post(f"{FOLDERS}/move", json={"name": "py", "parent": "lists"}).status_code == 200
    renamed = admin.post(f"{FOLDERS}/rename", json={"name": "lists/py", "new_name": "lists/python"})
    assert renamed.status_code == 200
    assert _names(admin) == [("INBOX", 1), ("Quarantine", 0), ("lists", 0), ("lists/python", 0)]
    assert admin.delete(f"{FOLDERS}/lists/python").status_code == 204
    assert _names(admin)[2:] == [("lists", 0)]


def test_messages_move_between_folders_keeping_their_uids(admin: TestClient, store: Store) -> None:
    uid = deliver(store, MESSAGE, ADDRESS)
    admin.post(FOLDERS, json={"name": "news"})
    moved = admin.post(f"{FOLDERS}/messages", json={"uids": [uid], "folder": "news"})
    assert moved.status_code == 200 and moved.json()["data"][0]["uid"] == uid
    assert _names(admin) == [("INBOX", 0), ("Quarantine", 0), ("news", 1)]
    assert admin.get(f"/v1/mailboxes/{ADDRESS}/messages").json()["data"] == []
    assert admin.delete(f"{FOLDERS}/news").status_code == 409  # it holds the message
    back = admin.post(f"{FOLDERS}/messages", json={"uids": [uid], "folder": "INBOX"})
    assert back.status_code == 200
    assert admin.delete(f"{FOLDERS}/news").status_code == 204
    assert _names(admin) == [("INBOX", 1), ("Quarantine", 0)]


def test_refusals_are_404_409_or_422_and_change_nothing(admin: TestClient, store: Store) -> None:
    admin.post(FOLDERS, json={"name": "a"})
    admin.post(FOLDERS, json={"name": "a/b"})
    for response, code in (
        (admin.post(FOLDERS, json={"name": "A"}), 409),
        (admin.post(FOLDERS, json={"name": "x y"}), 422),
        (admin.post(FOLDERS, json={"name": "INBOX"}), 422),
        (admin.delete(f"{FOLDERS}/a"), 409),
        (admin.delete(f"{FOLDERS}/missing"), 404),
        (admin.delete(f"{FOLDERS}/Quarantine"), 422),
        (admin.post(f"{FOLDERS}/move", json={"name": "a", "parent": "a/b"}), 422),
        (admin.post(f"{FOLDERS}/messages", json={"uids": ["nope"], "folder": "a"}), 404),
        (admin.get("/v1/mailboxes/nobody@example.test/folders"), 404),
    ):
        assert response.status_code == code, response.json()
        assert response.headers["content-type"] == "application/problem+json"
    assert _names(admin) == [("INBOX", 0), ("Quarantine", 0), ("a", 0), ("a/b", 0)]


def test_folder_routes_need_the_admin_token(anonymous: TestClient) -> None:
    assert anonymous.get(FOLDERS).status_code == 401
    assert anonymous.post(FOLDERS, json={"name": "x"}).status_code == 401
