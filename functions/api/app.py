"""The REST API on Lambda behind an API Gateway HTTP API: the FastAPI app through Mangum."""

from __future__ import annotations

from mangum import Mangum

from popdrop.api.app import create_app

# lifespan off: the app has no startup or shutdown work, and Lambda gives no shutdown hook.
# buffered: Lambda holds the whole reply (6 MB at most), so large bodies are presigned redirects.
handler = Mangum(create_app(buffered=True), lifespan="off")
