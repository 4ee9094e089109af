"""functions/api/app.py: the same app on Lambda, through Mangum, for an HTTP API (payload 2.0)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from functions.api.app import handler


def http_api_event(method: str, path: str) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format version 2.0."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "accept": "*/*"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "test",
            },
            "requestId": "request-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "14/Nov/2023:22:13:20 +0000",
            "timeEpoch": 1_700_000_000_000,
        },
        "isBase64Encoded": False,
    }


def test_the_lambda_handler_answers_health_through_mangum() -> None:
    context = SimpleNamespace(function_name="popdrop-api", aws_request_id="request-1")

    response = handler(http_api_event("GET", "/health"), context)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"]) == {"status": "ok"}
