"""Credentials guard every /v1 route, and a refusal never says what was wrong."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from popdrop.api.deps import get_store
from popdrop.settings import Settings, get_settings

from .helpers import ADDRESS, TOKEN, assert_refused

PROTECTED = [
    "/v1/mailboxes",
    f"/v1/mailboxes/{ADDRESS}/messages",
    f"/v1/mailboxes/{ADDRESS}/messages/some-uid",
    f"/v1/mailboxes/{ADDRESS}/messages/some-uid/raw",
]


def no_storage() -> None:
    raise AssertionError("a refused request must not reach storage")


@pytest.fixture
def guarded(app: FastAPI) -> TestClient:
    """A client of an app whose storage fails the test if a request reaches it."""
    app.dependency_overrides[get_store] = no_storage
    return TestClient(app, base_url="https://testserver")


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN.upper()}",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
def test_a_v1_route_refuses_a_request_without_the_exact_token(
    guarded: TestClient, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_refused(guarded.get(path, headers=headers))


def test_the_scheme_name_is_case_insensitive(anonymous: TestClient) -> None:
    """RFC 9110 §11.1: the authentication scheme is a case-insensitive token."""
    response = anonymous.get("/v1/mailboxes", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


def test_a_token_with_non_ascii_octets_is_refused_not_an_error(guarded: TestClient) -> None:
    response = guarded.get(
        "/v1/mailboxes", headers={"Authorization": "Bearer t\xf6ken".encode("latin-1")}
    )
    assert_refused(response)


def test_the_refusal_comes_before_validation_of_the_path(guarded: TestClient) -> None:
    """An anonymous client learns nothing from the API, not even which addresses are valid."""
    assert_refused(guarded.get("/v1/mailboxes/not-an-address/messages"))


@pytest.mark.parametrize("presented", ["", "anything"])
def test_an_empty_configured_token_disables_admin_access(
    app: FastAPI, settings: Settings, presented: str
) -> None:
    disabled = settings.model_copy(update={"api_token": ""})
    app.dependency_overrides[get_settings] = lambda: disabled
    app.dependency_overrides[get_store] = no_storage
    client = TestClient(app, headers={"Authorization": f"Bearer {presented}"})

    for path in PROTECTED:
        assert_refused(client.get(path))


def test_the_configured_token_admits_the_request(admin: TestClient) -> None:
    assert admin.get("/v1/mailboxes").status_code == 200
