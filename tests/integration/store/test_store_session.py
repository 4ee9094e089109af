"""The store's botocore session (issue 13, "a fast CLI"): botocore's own, configured the standard
AWS way, with a model loader that does not list every service botocore knows."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.session import Session

from popdrop.store import aws


def test_the_session_searches_models_where_botocore_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_DATA_PATH (models an operator supplies) first, then ~/.aws/models and botocore's."""
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    ours = aws.session().get_component("data_loader")
    stock = Session().get_component("data_loader")
    assert ours.search_paths == stock.search_paths
    assert ours.search_paths[0] == str(tmp_path)


def test_the_session_knows_the_stores_services_without_listing_botocores() -> None:
    loader = aws.session().get_component("data_loader")
    assert loader.list_available_services("service-2") == ["dynamodb", "s3", "sqs", "events"]
    model = loader.load_service_model("dynamodb", "service-2")
    assert "Scan" in model["operations"]
