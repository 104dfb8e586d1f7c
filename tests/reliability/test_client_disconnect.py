"""A client that goes away mid-body gets no 500 and leaves no traceback in the logs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from app.main import create_app


@pytest.mark.parametrize("declared_length", [True, False], ids=["content-length", "chunked"])
def test_disconnect_before_the_body_is_quiet(
    settings_factory: Any, champion: dict[str, Any], caplog: pytest.LogCaptureFixture, declared_length: bool
) -> None:
    app = create_app(settings_factory())
    sent: list[dict[str, Any]] = []
    messages = iter(
        [{"type": "http.request", "body": b'{"instances": [', "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")]
        + ([(b"content-length", b"200")] if declared_length else []),
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    app.state.services.manager.start()
    asyncio.run(app.state.services.manager.wait_initial(20))
    with caplog.at_level(logging.INFO):
        asyncio.run(app(scope, receive, send))
    app.state.services.manager.close()
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    # Nobody reads an answer: 499 when the app saw the disconnect, nothing when the body
    # limit did; never a 4xx/5xx about the body, never a traceback.
    assert statuses == ([499] if declared_length else [])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
