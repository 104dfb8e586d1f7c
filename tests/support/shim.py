"""Drive the app the way the Functions Python worker does: through the registered function.

``ShimClient`` takes the function that ``AsgiFunctionApp`` registered, builds real
``azure.functions.HttpRequest`` objects, awaits the function on one long-lived event loop
(as the worker does) and returns the real ``azure.functions.HttpResponse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from typing import Any

import azure.functions as func

import function_app
from app.settings import Settings
from benchmarks.inproc import FunctionContext


class ShimResponse:
    def __init__(self, response: func.HttpResponse) -> None:
        self.raw = response
        self.status_code = response.status_code
        self.headers = {k.lower(): v for k, v in response.headers.items()}
        self.body = response.get_body()

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<ShimResponse {self.status_code} {self.body[:200]!r}>"


class ShimClient:
    def __init__(self, settings: Settings) -> None:
        self.function_app = function_app.build(settings)
        functions = self.function_app.get_functions()
        assert len(functions) == 1, "the ASGI shim registers exactly one function"
        self.function = functions[0]
        self.user_function = self.function.get_user_function()
        self.fastapi_app = self.function_app.middleware._app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def manager(self) -> Any:
        return self.fastapi_app.state.services.manager

    async def invoke(self, request: func.HttpRequest) -> func.HttpResponse:
        return await self.user_function(request, FunctionContext(uuid.uuid4().hex))

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> ShimResponse:
        return ShimResponse(
            self.submit(method, path, json_body=json_body, body=body, headers=headers).result(timeout)
        )

    def submit(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("content-type", "application/json")
        request = func.HttpRequest(
            method=method, url=f"http://localhost:7071{path}", headers=headers, body=body or b""
        )
        return asyncio.run_coroutine_threadsafe(self.invoke(request), self.loop)

    def get(self, path: str, **kwargs: Any) -> ShimResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ShimResponse:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.manager.close()
        if self.function_app.startup_task_done:
            # Run the lifespan shutdown on the loop that ran startup. Otherwise
            # AsgiFunctionApp.__del__ runs it later on a new loop, where it waits forever.
            shutdown = self.function_app.middleware.notify_shutdown()
            with contextlib.suppress(Exception):  # best effort; the flag below prevents the hang
                asyncio.run_coroutine_threadsafe(shutdown, self.loop).result(10)
            self.function_app.startup_task_done = False
        with contextlib.suppress(Exception):  # best effort cleanup of lifespan tasks
            asyncio.run_coroutine_threadsafe(_cancel_pending(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


async def _cancel_pending() -> None:
    """Cancel the lifespan tasks the shim leaves waiting (one per concurrent first call)."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
