"""GET /health: liveness for load balancers and probes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from popdrop.api.app import create_app
from popdrop.api.deps import get_store


def no_storage() -> None:
    raise AssertionError("/health must not touch storage")


def test_health_answers_ok_without_authentication_or_storage() -> None:
    app = create_app()
    app.dependency_overrides[get_store] = no_storage

    response = TestClient(app).get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
