"""Logs: one record per event, as JSON lines locally, through the host's channel in Azure.

Locally (uvicorn, the CLI, tests) every record -- the app's, uvicorn's and the libraries' --
is one JSON line on stderr, correlated by request id and Functions invocation id. The ids
live in context variables set by ``RequestIdMiddleware``; Starlette's threadpool copies the
context, so logs from sync code run in threads keep them too.

Under the Functions host the Python worker puts its own handler on the root logger (its
``Dispatcher`` does so once the gRPC channel is up, before it imports the function app) and
sends every record that reaches it to the host as an ``RpcLog`` with the record's level.
The host also records the worker's stderr, grading lines by keywords, so a JSON line of ours
would be a second copy of each event, at a made-up level. There the app's records therefore
go through the worker's handler only.
"""

from __future__ import annotations

import contextvars
import logging
import os
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
invocation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("invocation_id", default=None)
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


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


def _json_handler() -> logging.Handler | None:
    return next((h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)), None)


def host_handlers() -> list[logging.Handler]:
    """The Functions worker's handlers on the root logger (empty outside the Functions host).

    Under ``FUNCTIONS_WORKER_RUNTIME`` any root handler that is not ours is the worker's:
    it installs its own (``AsyncLoggingHandler`` in the 3.11 worker) and nothing else does.
    """
    if not os.environ.get("FUNCTIONS_WORKER_RUNTIME"):
        return []
    return [h for h in logging.getLogger().handlers if not isinstance(h.formatter, JsonFormatter)]


def configure_logging(level: str) -> None:
    """One record per event: the host's handler under the Functions worker, else JSON on stderr."""
    logging.getLogger("app").setLevel(level.upper())
    _install_record_factory()
    root = logging.getLogger()
    ours = _json_handler()
    if host_handlers():
        if ours is not None:  # configured before the worker took over: one channel only
            root.removeHandler(ours)
    elif ours is None:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    for noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.identity"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
