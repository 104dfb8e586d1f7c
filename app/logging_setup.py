"""Structured JSON logs, correlated by request id and Functions invocation id.

The ids live in context variables set by ``RequestIdMiddleware``; Starlette's threadpool
copies the context, so logs from sync code run in threads keep them too.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                             default=None)
invocation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("invocation_id",
                                                                                default=None)
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_configured = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def _install_record_factory() -> None:
    """Stamp every record with the ids of the request it was logged in (at log time)."""
    base = logging.getLogRecordFactory()
    if getattr(base, "_stamps_request_ids", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        record.request_id = request_id_var.get()
        record.invocation_id = invocation_id_var.get()
        return record

    factory._stamps_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str) -> None:
    """Send the app's logs as JSON lines to stderr (the Functions host collects them)."""
    global _configured
    app_logger = logging.getLogger("app")
    app_logger.setLevel(level.upper())
    _install_record_factory()
    if not _configured:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        app_logger.addHandler(handler)
        app_logger.propagate = True
        _configured = True
    for noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.identity"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
