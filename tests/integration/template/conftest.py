"""The SAM template as data: YAML with CloudFormation's short-form tags read as long-form dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A SafeLoader that reads `!Ref X` as {"Ref": X}, `!GetAtt A.B` as {"Fn::GetAtt": [A, B]}
    and any other `!Name value` as {"Fn::Name": value}."""


def _short_form(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _short_form)


@pytest.fixture(scope="session")
def template_path() -> Path:
    return TEMPLATE


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    with TEMPLATE.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=CfnLoader)
    return document


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template["Resources"]
    return found


class _NoManagedPolicies:
    """The SAM transform asks for AWS managed policy ARNs only when it writes a role itself;
    every function here names its own role, so none is needed (and no AWS call is made)."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="session")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """template.yaml after the SAM transform, as CloudFormation receives it from `sam deploy`
    (which first replaces each local CodeUri with the uploaded package's S3 URI)."""
    import copy
    import os

    from samtranslator.translator.transform import transform

    document = copy.deepcopy(template)
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://packaged/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the transform's pseudo-parameters
    result: dict[str, Any] = transform(document, {}, _NoManagedPolicies())
    return result


@pytest.fixture(scope="session")
def deployed(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The transformed template's resources."""
    found: dict[str, dict[str, Any]] = transformed["Resources"]
    return found
