"""Every function's package (infra/lambda.mk): its handler imports with only what the package
holds, and the package holds nothing the handler does not import (issue 11: "exactly what it
imports")."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The wheel lambda.mk builds from this repository: the popdrop, popd and functions modules.
OWN_DISTRIBUTION = "popdrop"

# Imports the module named in argv[2] with every installed distribution outside the JSON list in
# argv[1] hidden, as if only those were installed: optional imports (botocore's certifi) then
# fall back exactly as they would on Lambda, and a missing requirement fails the import. Prints
# the distributions the import actually loaded.
PROBE = """
import importlib, importlib.abc, importlib.metadata, json, re, sys
allowed = set(json.loads(sys.argv[1]))
owners = importlib.metadata.packages_distributions()

def distributions(top):
    return {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}

class HideOthers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        found = distributions(top)
        if found and not found & allowed:
            raise ModuleNotFoundError(f"{top} ({sorted(found)}) is not in the package", name=top)
        return None

sys.meta_path.insert(0, HideOthers())
importlib.import_module(sys.argv[2])
loaded = set().union(*(distributions(name.partition(".")[0]) for name in list(sys.modules)))
print(json.dumps(sorted(loaded & allowed)))
"""


def functions(resources: dict[str, Any]) -> dict[str, str]:
    """Each function's logical id and handler."""
    return {
        name: resource["Properties"]["Handler"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def requirements(template_path: Path, function: str) -> list[str]:
    makefile = (template_path.parent / "infra" / "lambda.mk").read_text(encoding="utf-8")
    variable = function.removesuffix("Function").upper() + "_REQUIREMENTS"
    match = re.search(rf"^{variable} = (.+)$", makefile, re.MULTILINE)
    assert match is not None, f"infra/lambda.mk has no {variable}"
    target = re.search(
        rf"^build-{function}:\n\t\$\(call lambda_package,\$\((\w+)\)\)", makefile, re.M
    )
    assert target is not None and target.group(1) == variable, f"no build-{function} target"
    return match.group(1).split()


def with_dependencies(names: list[str]) -> set[str]:
    """The named distributions and everything they require here (markers evaluated, no extras)."""
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in found:
            continue
        found.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return found


def test_every_function_is_built_by_its_makefile_target(resources: dict[str, Any]) -> None:
    for name in functions(resources):
        assert resources[name]["Metadata"] == {"BuildMethod": "makefile"}


@pytest.mark.parametrize(
    "function",
    [
        "IngestFunction",
        "ReconcileFunction",
        "GcFunction",
        "ApiFunction",
        "RuleSetFunction",
        "DnsFunction",
    ],
)
def test_the_handler_imports_with_exactly_what_its_package_holds(
    resources: dict[str, Any], template_path: Path, function: str
) -> None:
    """An import lambda.mk leaves out passes every other test and fails only once deployed; a
    requirement nothing imports only makes the package bigger and its cold start slower."""
    assert set(functions(resources)) >= {function}
    listed = requirements(template_path, function)
    packaged = with_dependencies(listed) | {OWN_DISTRIBUTION}
    module_name, attribute = functions(resources)[function].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module_name), attribute))

    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(sorted(packaged)), module_name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout))
    assert {canonicalize_name(name) for name in listed} <= loaded, "a requirement nothing imports"
