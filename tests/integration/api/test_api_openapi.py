"""The OpenAPI document: the checked-in docs/openapi.json is what the app generates, it documents
every status each route can give (401 on every /v1 route, problem documents for errors) and the
patterns of the path parameters; its pages (/docs, /redoc) load nothing from another origin."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from popdrop.api.app import create_app
from popdrop.api.openapi import document

CHECKED_IN = Path(__file__).parents[3] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    return loaded


def test_the_checked_in_document_is_the_app_s_document() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == document(), (
        "docs/openapi.json is stale: run `make openapi`"
    )


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_v1_route_documents_401_and_its_errors_as_problem_documents(
    spec: dict[str, Any],
) -> None:
    """RFC 9457 §3: `application/problem+json` for every error status a route lists."""
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        if path.startswith("/v1/"):
            assert "401" in responses, (method, path)
            assert operation["security"] == [{"adminToken": []}, {"mailboxPassword": []}]
        for code, response in responses.items():
            if int(code) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (path, code)
        assert ("404" in responses) == ("{" in path), (method, path)


def test_every_path_parameter_publishes_its_pattern(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                pattern = parameter["schema"]["pattern"]
                re.compile(pattern)
                assert f"{{{parameter['name']}}}" in path, (method, path)


def test_the_docs_pages_load_only_the_package_s_own_assets() -> None:
    """Swagger UI and ReDoc from the package (fastapi-offline's copies), no CDN: they work
    offline, and the page's policy would block another origin anyway."""
    client = TestClient(create_app())
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, page
        for source in sources:
            assert source.startswith("/"), (page, source)
            fetched = client.get(source)
            assert fetched.status_code == 200, source
            assert len(fetched.content) > 1000 or source.endswith(".js"), source
        assert "script-src 'self'" in client.get(page).headers["content-security-policy"]
    assert client.get("/openapi.json").json() == json.loads(document())
