"""Messages through the API: pages, filters, addresses and unique ids holding `/`, one message's
headers and MIME parts, a part, the sanitised HTML, and deletion as POP3 would delete."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from popdrop.admin import mailboxes as admin_mailboxes
from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event
from popdrop.model import Verdicts
from popdrop.settings import Settings, get_settings
from popdrop.store import Store

from .helpers import ADDRESS, TOKEN, assert_not_found, assert_problem, put_message

MESSAGES = f"/v1/mailboxes/{ADDRESS}/messages"


def simple(subject: str, sender: str = "bob@example.org") -> bytes:
    return f"From: {sender}\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


# multipart/mixed: an alternative (plain, html with a cid: image, a script, a remote image and a
# javascript: link), the inline image, an attached message, and an attachment whose filename is
# RFC 2231 encoded; the subject is RFC 2047 encoded.
RICH = (
    b"From: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\n"
    b"To: " + ADDRESS.encode() + b"\r\n"
    b"Subject: =?utf-8?b?w4l0w6kgw6AgUGFyaXM=?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"plain text\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b'<p onclick=3D"alert(1)">Hello<script>alert(2)</script>'
    b'<img src=3D"http://tracker.example/pixel.png">'
    b'<img src=3D"cid:logo@x">'
    b'<a href=3D"javascript:alert(3)">click</a></p>\r\n'
    b"--alt--\r\n"
    b"--outer\r\n"
    b"Content-Type: image/png\r\n"
    b"Content-ID: <logo@x>\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"iVBORw0KGgo=\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)


def test_pages_follow_a_cursor_newest_first_with_a_stable_envelope(
    admin: TestClient, store: Store
) -> None:
    for n in range(5):
        put_message(store, f"u{n}", simple(f"s{n}"), arrived_at=1_000 + n)

    first = admin.get(MESSAGES, params={"limit": 2}).json()
    assert set(first) == {"data", "has_more"}
    assert ([m["uid"] for m in first["data"]], first["has_more"]) == (["u4", "u3"], True)
    second = admin.get(MESSAGES, params={"limit": 2, "starting_after": "u3"}).json()
    assert ([m["uid"] for m in second["data"]], second["has_more"]) == (["u2", "u1"], True)
    last = admin.get(MESSAGES, params={"limit": 2, "starting_after": "u1"}).json()
    assert ([m["uid"] for m in last["data"]], last["has_more"]) == (["u0"], False)


def test_the_mailbox_list_pages_by_address(admin: TestClient, store: Store) -> None:
    for name in ("carol", "dave"):
        admin_mailboxes.create_mailbox(store, f"{name}@example.test", "pw-of-" + name)
    first = admin.get("/v1/mailboxes", params={"limit": 2}).json()
    assert [m["address"] for m in first["data"]] == [ADDRESS, "carol@example.test"]
    assert first["has_more"] is True
    rest = admin.get("/v1/mailboxes", params={"starting_after": "carol@example.test"}).json()
    assert ([m["address"] for m in rest["data"]], rest["has_more"]) == (
        ["dave@example.test"],
        False,
    )


@pytest.mark.parametrize(
    ("query", "status", "kind"),
    [
        ("limit=2&bogus=1", 400, "unknown-parameter"),
        ("offset=10", 400, "unknown-parameter"),
        ("limit=0", 422, "invalid-request"),
        ("limit=501", 422, "invalid-request"),
        ("limit=ten", 422, "invalid-request"),
        ("since=yesterday", 422, "invalid-request"),
        ("verdict=MAYBE", 422, "invalid-request"),
        ("starting_after=no-such-uid", 400, "invalid-cursor"),
    ],
)
def test_unknown_or_malformed_query_parameters_are_refused(
    admin: TestClient, query: str, status: int, kind: str
) -> None:
    assert_problem(admin.get(f"{MESSAGES}?{query}"), status, kind)


def test_filters_match_summary_headers_tag_verdicts_and_arrival(
    admin: TestClient, store: Store
) -> None:
    put_message(store, "a", simple("Invoice May", "Billing <bills@shop.example>"), arrived_at=1_000)
    put_message(store, "b", simple("hello", "friend@example.org"), arrived_at=2_000)
    store.put_incoming("c", simple("newsletter"))
    local, domain = ADDRESS.split("@")
    event = ses_event(
        "c", [f"{local}+news@{domain}"], timestamp_ms=3_000, verdicts=Verdicts(dkim="FAIL")
    )
    ingest_ses_event(store, event)

    def uids(**params: str) -> list[str]:
        response = admin.get(MESSAGES, params=params)
        assert response.status_code == 200, response.text
        return [m["uid"] for m in response.json()["data"]]

    assert uids(**{"from": "SHOP.example"}) == ["a"]
    assert uids(subject="invoice") == ["a"]
    assert uids(q="friend") == ["b"]
    assert uids(tag="news") == ["c"]
    assert uids(verdict="FAIL") == ["c"]
    assert uids(verdict="dkim:FAIL") == ["c"]
    assert uids(verdict="spf:FAIL") == []
    assert uids(since="1970-01-01T00:00:02Z") == ["c", "b"]
    assert uids(until="1970-01-01T00:00:02Z") == ["b", "a"]
    assert uids(subject="e", **{"from": "friend"}) == ["b"]


def test_a_local_part_and_a_unique_id_holding_a_slash_are_reachable(
    admin: TestClient, store: Store
) -> None:
    """The issue's case: `a/b@example.test` and a reconcile-made id with `/`, percent-encoded."""
    admin_mailboxes.create_mailbox(store, "a/b@example.test", "password-ab")
    put_message(store, "x/y", simple("slash"), arrived_at=1, address="a/b@example.test")
    base = "/v1/mailboxes/a%2Fb@example.test"

    assert admin.get(base).json()["address"] == "a/b@example.test"
    assert [m["uid"] for m in admin.get(f"{base}/messages").json()["data"]] == ["x/y"]
    assert admin.get(f"{base}/messages/x%2Fy").json()["uid"] == "x/y"
    assert admin.get(f"{base}/messages/x%2Fy/raw").content == simple("slash")
    assert admin.delete(f"{base}/messages/x%2Fy").status_code == 204
    assert_not_found(admin.get(f"{base}/messages/x%2Fy"))
    assert admin.delete(base).status_code == 204


def test_a_quarantined_message_with_a_slash_in_its_id_is_released(
    admin: TestClient, store: Store
) -> None:
    store.put_incoming("rec/1", simple("spam"))
    ingest_ses_event(
        store, ses_event("rec/1", [ADDRESS], timestamp_ms=1, verdicts=Verdicts(spam="FAIL"))
    )
    quarantine = f"/v1/mailboxes/{ADDRESS}/quarantine"
    assert [h["message"]["uid"] for h in admin.get(quarantine).json()["data"]] == ["rec/1"]
    assert admin.post(f"{quarantine}/rec%2F1/release").status_code == 200


def test_one_message_lists_every_header_decoded_and_every_part_numbered_as_imap_does(
    admin: TestClient, store: Store
) -> None:
    """RFC 2047 words and RFC 2231 filenames decoded; part ids as RFC 3501 §6.4.5 BODY[section]."""
    put_message(store, "rich", RICH, arrived_at=1)

    detail = admin.get(f"{MESSAGES}/rich").json()

    headers = {h["name"]: h["value"] for h in detail["headers"]}
    assert headers["From"] == "Jörg <jorg@example.org>"
    assert headers["Subject"] == "Été à Paris"
    parts = {p["id"]: p for p in detail["parts"]}
    assert [(p["id"], p["content_type"]) for p in detail["parts"]] == [
        ("TEXT", "multipart/mixed"),
        ("1", "multipart/alternative"),
        ("1.1", "text/plain"),
        ("1.2", "text/html"),
        ("2", "image/png"),
        ("3", "message/rfc822"),
        ("3.1", "text/plain"),
        ("4", "application/pdf"),
    ]
    assert parts["4"]["filename"] == "résumé.pdf"
    assert parts["4"]["disposition"] == "attachment"
    assert parts["4"]["size"] == len(b"%PDF-1.4\n")
    assert parts["2"]["content_id"] == "logo@x"
    assert parts["1.1"]["charset"] == "utf-8"
    assert parts["1"]["container"] and not parts["1.1"]["container"]


def test_a_part_is_served_decoded_as_a_safe_attachment(admin: TestClient, store: Store) -> None:
    put_message(store, "rich", RICH, arrived_at=1)

    response = admin.get(f"{MESSAGES}/rich/parts/4")

    assert response.status_code == 200
    assert response.content == b"%PDF-1.4\n"
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )
    # RFC 2046 §5.1.1: the CRLF before a boundary belongs to the boundary.
    assert admin.get(f"{MESSAGES}/rich/parts/3.1").content == b"inner body"
    assert_not_found(admin.get(f"{MESSAGES}/rich/parts/9"))
    assert_problem(admin.get(f"{MESSAGES}/rich/parts/0"), 422, "invalid-request")


def test_the_html_body_is_sanitised_remote_content_blocked_and_cid_resolved(
    admin: TestClient, store: Store
) -> None:
    put_message(store, "rich", RICH, arrived_at=1)

    response = admin.get(f"{MESSAGES}/rich/html")

    assert response.status_code == 200
    html = response.text
    assert "Hello" in html
    for unsafe in ("<script", "alert", "onclick", "tracker.example", "javascript:"):
        assert unsafe not in html
    assert f'src="/v1/mailboxes/{ADDRESS}/messages/rich/parts/2"' in html
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    put_message(store, "plain", simple("no html"), arrived_at=2)
    assert_problem(admin.get(f"{MESSAGES}/plain/html"), 404, "no-html-body")


def test_deleting_a_message_removes_it_as_pop3_would(admin: TestClient, store: Store) -> None:
    """RFC 1939 §6: DELE then QUIT; the mailbox's counters and the object go with it."""
    put_message(store, "u1", simple("bye"), arrived_at=1)

    assert admin.delete(f"{MESSAGES}/u1").status_code == 204

    assert admin.get(MESSAGES).json()["data"] == []
    mailbox = admin.get(f"/v1/mailboxes/{ADDRESS}").json()
    assert (mailbox["message_count"], mailbox["octets"]) == (0, 0)
    assert_not_found(admin.delete(f"{MESSAGES}/u1"))


def test_deleting_while_a_pop3_session_holds_the_maildrop_is_409(
    admin: TestClient, store: Store
) -> None:
    """RFC 1939 §8: the maildrop is exclusively the session's until it ends."""
    put_message(store, "u1", simple("kept"), arrived_at=1)
    heartbeat = store.start_heartbeat("popd-daemon", seconds=30)
    lease = store.acquire_lease(ADDRESS, "pop3-session", heartbeat)
    assert lease is not None

    assert_problem(admin.delete(f"{MESSAGES}/u1"), 409, "maildrop-in-use")
    state = admin.get(f"/v1/mailboxes/{ADDRESS}/lease").json()
    assert (state["held"], state["holder"]) == (True, "pop3-session")

    assert admin.delete(f"/v1/mailboxes/{ADDRESS}/lease").status_code == 204
    assert admin.get(f"/v1/mailboxes/{ADDRESS}/lease").json()["held"] is False
    assert admin.delete(f"{MESSAGES}/u1").status_code == 204


def test_a_message_over_the_parse_bound_is_422_and_still_served_raw(
    app: FastAPI, settings: Settings, store: Store
) -> None:
    """POPDROP_API_PARSE_MAX_BYTES bounds what the API holds in memory to parse a message."""
    bounded = settings.model_copy(update={"api_parse_max_bytes": 1024})
    app.dependency_overrides[get_settings] = lambda: bounded
    admin = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    big = simple("big").replace(b"body", b"b" * 2000)
    put_message(store, "big", big, arrived_at=1)

    for route in ("", "/html", "/parts/1"):
        assert_problem(admin.get(f"{MESSAGES}/big{route}"), 422, "message-too-large")
    assert admin.get(f"{MESSAGES}/big/raw").content == big
