"""Issue 12's authorization matrix: every /v1 route x {the admin, the owner with the password, the
owner with an app password, another mailbox's owner, a wrong password, nobody}.

The admin may do everything; the owner everything about their own mailbox except what only the
admin does (removing it, its policy, its lease, the mailbox list, aliases), and with an app
password not their credentials; everyone else gets the 404 an unknown mailbox gets (or 403 on a
route about no mailbox), and wrong or missing credentials the one 401.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from popdrop.admin import delivery
from popdrop.admin import mailboxes as admin_mailboxes
from popdrop.events import ses_event
from popdrop.ingest import ingest_ses_event
from popdrop.model import Verdicts
from popdrop.store import Store

from .helpers import ADDRESS, TOKEN, assert_not_found, assert_problem, assert_refused, put_message

OTHER = "bob@example.test"
PASSWORD = "alice-password-1"
OTHER_PASSWORD = "bob-password-1"
CALLERS = ("nobody", "wrong", "other", "app", "owner", "admin")
MAILBOX = f"/v1/mailboxes/{ADDRESS}"
MESSAGE = f"{MAILBOX}/messages/m-{{caller}}"
HTML = b"From: x@example.org\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {caller} names the message or quarantined message seeded for that caller
    access: str  # admin: about no mailbox; admin-mailbox; owner; owner-password
    success: int
    body: Any = None


ROUTES = [
    Route("GET", "/v1/me", "any", 200),
    Route("GET", "/v1/mailboxes", "admin", 200),
    Route("POST", "/v1/mailboxes", "admin", 201, {"address": "new-{caller}@example.test"}),
    Route("GET", MAILBOX, "owner", 200),
    Route("DELETE", MAILBOX, "admin-mailbox", 204),
    Route("PUT", f"{MAILBOX}/password", "owner-password", 204, {"password": PASSWORD}),
    Route("GET", f"{MAILBOX}/app-passwords", "owner-password", 200),
    Route("POST", f"{MAILBOX}/app-passwords", "owner-password", 201, {"name": "dev-{caller}"}),
    Route("DELETE", f"{MAILBOX}/app-passwords/phone-{{caller}}", "owner-password", 204),
    Route("GET", f"{MAILBOX}/policy", "admin-mailbox", 200),
    Route("PUT", f"{MAILBOX}/policy", "admin-mailbox", 200, {"max_messages": 10}),
    Route("GET", f"{MAILBOX}/lease", "admin-mailbox", 200),
    Route("DELETE", f"{MAILBOX}/lease", "admin-mailbox", 204),
    Route("GET", f"{MAILBOX}/messages", "owner", 200),
    Route("GET", MESSAGE, "owner", 200),
    Route("DELETE", MESSAGE, "owner", 204),
    Route("GET", f"{MESSAGE}/raw", "owner", 200),
    Route("HEAD", f"{MESSAGE}/raw", "owner", 200),
    Route("GET", f"{MESSAGE}/parts/1", "owner", 200),
    Route("GET", f"{MESSAGE}/html", "owner", 200),
    Route("GET", f"{MAILBOX}/quarantine", "owner", 200),
    Route("POST", f"{MAILBOX}/quarantine/q-{{caller}}/release", "owner", 200),
    Route("DELETE", f"{MAILBOX}/quarantine/q-{{caller}}", "owner", 204),
    Route("GET", "/v1/aliases", "admin", 200),
    Route("POST", "/v1/aliases", "admin", 201, {"address": "@example.test", "targets": [OTHER]}),
    Route("DELETE", "/v1/aliases/@example.test", "admin", 204),
]


def expected(route: Route, caller: str) -> int:
    if caller in {"nobody", "wrong"}:
        return 401
    if caller == "admin" or route.access == "any":
        return route.success
    if caller == "other":
        return 403 if route.access == "admin" else 404
    if route.access in {"admin", "admin-mailbox"}:
        return 403
    if route.access == "owner-password" and caller == "app":
        return 403
    return route.success


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def headers(store: Store) -> dict[str, dict[str, str]]:
    """Each caller's credentials, and what each route needs seeded per caller."""
    admin_mailboxes.set_password(store, ADDRESS, PASSWORD)
    admin_mailboxes.create_mailbox(store, OTHER, OTHER_PASSWORD)
    _, app_password = admin_mailboxes.add_app_password(store, ADDRESS, "laptop")
    delivery.set_route(store, "@example.test", [ADDRESS])
    for caller in CALLERS:
        admin_mailboxes.add_app_password(store, ADDRESS, f"phone-{caller}")
        put_message(store, f"m-{caller}", HTML, arrived_at=1_000)
        store.put_incoming(f"q-{caller}", HTML)
        event = ses_event(f"q-{caller}", [ADDRESS], timestamp_ms=1, verdicts=Verdicts(spam="FAIL"))
        ingest_ses_event(store, event)
    return {
        "nobody": {},
        "wrong": basic(ADDRESS, "not-the-password"),
        "other": basic(OTHER, OTHER_PASSWORD),
        "app": basic(ADDRESS, app_password),
        "owner": basic(ADDRESS, PASSWORD),
        "admin": {"Authorization": f"Bearer {TOKEN}"},
    }


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_answers_each_caller_as_the_matrix_says(
    app: FastAPI, headers: dict[str, dict[str, str]], route: Route
) -> None:
    # Over HTTPS: a password is never accepted over plain HTTP (but from loopback when allowed).
    client = TestClient(app, base_url="https://testserver")
    for caller in CALLERS:  # least privileged first: only the last callers change anything
        path = route.path.format(caller=caller)
        body = None if route.body is None else _format(route.body, caller)
        response = client.request(route.method, path, json=body, headers=headers[caller])
        want = expected(route, caller)
        assert response.status_code == want, (caller, response.text)
        if want == 401 and route.method != "HEAD":
            assert_refused(response)
        elif want == 404 and route.method != "HEAD":
            assert_not_found(response)
        elif want == 403:
            assert_problem(response, 403, "forbidden")


def _format(body: Any, caller: str) -> Any:
    if isinstance(body, str):
        return body.format(caller=caller)
    if isinstance(body, dict):
        return {key: _format(value, caller) for key, value in body.items()}
    if isinstance(body, list):
        return [_format(value, caller) for value in body]
    return body


def test_another_mailbox_is_indistinguishable_from_one_that_does_not_exist(
    app: FastAPI, headers: dict[str, dict[str, str]]
) -> None:
    client = TestClient(app, base_url="https://testserver", headers=headers["other"])
    for path in (MAILBOX, f"{MAILBOX}/messages", MESSAGE.format(caller="other")):
        hidden = client.get(path)
        unknown = client.get(path.replace(ADDRESS, "nobody@example.test"))
        assert (hidden.status_code, hidden.content) == (unknown.status_code, unknown.content)


def test_a_password_over_plain_http_is_refused_unless_the_operator_allows_it(
    app: FastAPI, headers: dict[str, dict[str, str]]
) -> None:
    """As for POP3 (POPDROP_PLAINTEXT_AUTH, default never): the password never travels in clear."""
    response = TestClient(app).get(MAILBOX, headers=headers["owner"])
    assert_problem(response, 403, "insecure-transport")
