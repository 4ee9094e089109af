"""The API's OpenAPI document as text: `python -m popdrop.api.openapi > docs/openapi.json` (`make
openapi`). The checked-in copy is what clients and the property-based tests read; a test fails
when it differs from what the app generates."""

from __future__ import annotations

import json

from popdrop.api.app import create_app


def document() -> str:
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(document(), end="")
