"""Structured logs: one JSON object per line, so CloudWatch Logs Insights can query every field.

`log_event(logger, "ingest.delivered", message_id=..., mailbox=...)`. Callers pass only facts, never
secrets (no passwords, no tokens, no message bodies).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "werkzeug", "mail.log")


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line; `extra={"fields": {...}}` become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            document.update(fields)
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, separators=(",", ":"))


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, event, extra={"fields": fields})


def configure(level: int = logging.INFO) -> None:
    """Render every log line as JSON; idempotent.

    Lambda's Python runtime installs its own root handler, so its handlers are given the JSON
    formatter rather than a second handler added (which would print every line twice). Elsewhere
    (ECS, the CLI) a stderr handler is added.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())
    root.setLevel(level)
    # Libraries narrate every request at INFO (and moto's embedded server logs each one): keep
    # their warnings, drop the chatter.
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def now_ms() -> int:
    return time.time_ns() // 1_000_000
