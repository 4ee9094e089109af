"""The ingest function's package: its handler imports, and lambda.mk installs all it imports."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# What the Lambda Python runtime provides without packaging it (see infra/lambda.mk).
RUNTIME_PROVIDED = ["boto3"]
# The wheel lambda.mk builds from this repository: the popdrop, popd and functions modules.
OWN_DISTRIBUTION = "popdrop"

# Imports the module named in argv[2] with every installed distribution outside the JSON list in
# argv[1] hidden, as if only those were installed: optional imports (botocore's certifi) then
# fall back exactly as they would on Lambda, and a missing requirement fails the import.
PROBE = """
import importlib, importlib.abc, importlib.metadata, json, re, sys
allowed = set(json.loads(sys.argv[1]))
owners = importlib.metadata.packages_distributions()

class HideOthers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        found = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}
        if found and not found & allowed:
            raise ModuleNotFoundError(f"{top} ({sorted(found)}) is not in the package", name=top)
        return None

sys.meta_path.insert(0, HideOthers())
importlib.import_module(sys.argv[2])
"""


def handler_path(resources: dict[str, Any]) -> str:
    handler: str = resources["IngestFunction"]["Properties"]["Handler"]
    return handler


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


def test_the_handler_named_in_the_template_is_an_importable_callable(
    resources: dict[str, Any], moto_endpoint: str
) -> None:
    module_name, attribute = handler_path(resources).rsplit(".", 1)
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


def test_the_handler_imports_with_only_what_lambda_mk_installs(
    resources: dict[str, Any], template_path: Path
) -> None:
    """An import lambda.mk leaves out passes every other test and fails only once deployed."""
    makefile = (template_path.parent / "infra" / "lambda.mk").read_text(encoding="utf-8")
    match = re.search(r"^INGEST_REQUIREMENTS = (.+)$", makefile, re.MULTILINE)
    assert match is not None
    packaged = with_dependencies([*match.group(1).split(), *RUNTIME_PROVIDED]) | {OWN_DISTRIBUTION}
    module_name = handler_path(resources).rsplit(".", 1)[0]

    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(sorted(packaged)), module_name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
