"""No exception leaves the app under the Functions shim (security review F10).

Before the guard, Starlette's ServerErrorMiddleware answered 500 and re-raised, so the
exception escaped ``AsgiMiddleware.handle_async`` and failed the invocation, and the app
logged a full traceback with the raw request path. A webhook timestamp of more than 4,300
digits triggered exactly that (``int()`` raised before the signature was checked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi.responses import StreamingResponse

from app.security import mlflow_signature

WEBHOOK_SECRET = "whk-guard-3f9a1c"
MARKER = "req-data-7d41e0"  # request data that must never reach a log line


def _guard_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "app.asgi_guard"]


def _assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """No traceback and no request data in any log record."""
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    assert "Traceback" not in caplog.text
    assert MARKER not in caplog.text


def test_oversized_webhook_timestamp_is_a_401_not_a_crash(
    champion: dict[str, Any],
    settings_factory: Any,
    shim_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    shim = shim_factory(settings_factory(webhook_secret=WEBHOOK_SECRET))
    body = b'{"entity": "model_version_alias", "action": "created", "data": {}}'
    for timestamp in ("9" * 5000, "1" * 13, "\u0661\u0662\u0663"):  # huge, too long, Arabic digits
        response = shim.post(
            "/hooks/mlflow",
            body=body,
            headers={
                "content-type": "application/json",
                "x-mlflow-delivery-id": "d-1",
                "x-mlflow-timestamp": timestamp,
                "x-mlflow-signature": "v1,AAAA",
            },
        )
        assert response.status_code == 401, response
        assert response.json()["field"] == "x-mlflow-timestamp"
    # A correctly signed, current delivery still goes through.
    now = str(int(time.time()))
    signed = shim.post(
        "/hooks/mlflow",
        body=body,
        headers={
            "content-type": "application/json",
            "x-mlflow-delivery-id": "d-2",
            "x-mlflow-timestamp": now,
            "x-mlflow-signature": mlflow_signature(WEBHOOK_SECRET, "d-2", now, body),
        },
    )
    assert signed.status_code == 202, signed
    assert _guard_records(caplog) == []
    _assert_quiet(caplog)


def test_an_unhandled_exception_is_one_500_and_one_log_line(
    champion: dict[str, Any],
    settings_factory: Any,
    shim_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="app")
    shim = shim_factory(settings_factory())

    async def broken(item: str) -> None:
        raise ValueError(f"bad value {item}")  # the message quotes request data

    shim.fastapi_app.add_api_route("/broken/{item}", broken, methods=["POST"])
    response = shim.post(
        f"/broken/{MARKER}?q={MARKER}", body=MARKER.encode(), headers={"content-type": "text/plain"}
    )

    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "The server failed to handle the request.",
    }
    assert MARKER.encode() not in response.body
    records = _guard_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    line = records[0].getMessage()
    assert records[0].levelno == logging.ERROR
    assert "ValueError" in line and "/broken/{item}" in line and "test_exception_guard.py" in line
    _assert_quiet(caplog)
    # The invocation completed; the app keeps serving.
    assert shim.get("/health/live").status_code == 200


def test_an_exception_after_the_response_started_still_completes_the_invocation(
    champion: dict[str, Any],
    settings_factory: Any,
    shim_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="app")
    shim = shim_factory(settings_factory())

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first,"
        raise RuntimeError(MARKER)

    async def streaming() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/csv")

    shim.fastapi_app.add_api_route("/streaming", streaming, methods=["GET"])
    response = shim.get("/streaming")
    assert response.status_code == 200  # the status was already sent
    assert response.body == b"first,"
    records = _guard_records(caplog)
    assert len(records) == 1 and "RuntimeError" in records[0].getMessage()
    _assert_quiet(caplog)
