"""The REST API against a real store on moto's server, configured through dependency overrides."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from popdrop.api.app import create_app
from popdrop.settings import Settings, get_settings
from popdrop.store import Store

from .helpers import ADDRESS, PASSWORD_HASH, TOKEN


@pytest.fixture
def settings(moto: str) -> Settings:
    """Unique resource names per test, the admin token the tests present, and no failure penalty
    (the tests of the penalty set their own)."""
    name = f"popdrop-api-{uuid.uuid4().hex[:12]}"
    return Settings(
        table=name, bucket=name, api_token=TOKEN, auth_penalty_base=0.0, auth_penalty_max=0.0
    )


@pytest.fixture
def store(settings: Settings) -> Store:
    store = Store.from_settings(settings)
    store.create_resources()
    store.create_mailbox(ADDRESS, PASSWORD_HASH)
    return store


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: settings
    return app


@pytest.fixture
def anonymous(app: FastAPI, store: Store) -> TestClient:
    return TestClient(app)


@pytest.fixture
def admin(app: FastAPI, store: Store) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
