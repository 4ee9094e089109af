"""Property-based tests with schemathesis against the live app on moto, driven by the
checked-in docs/openapi.json: whatever the generated requests, no 5xx, and every response is one
the document lists, with its content type and schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from popdrop.store import Store

from .helpers import TOKEN, put_message

CHECKED_IN = Path(__file__).parents[3] / "docs" / "openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


schema = schemathesis.openapi.from_path(CHECKED_IN)


@pytest.fixture
def live_app(app: FastAPI, store: Store) -> FastAPI:
    """The app on a fresh moto store holding one message."""
    put_message(
        store, "u1", b"Subject: s\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n", arrived_at=1
    )
    return app


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_5xx_or_an_undocumented_reply(
    case: schemathesis.Case, live_app: FastAPI
) -> None:
    case.call_and_validate(
        base_url="https://testserver",
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=CHECKS,
        excluded_checks=[],
        app=live_app,  # the document is the checked-in file; the app is live
    )
