"""In-process paths: the registered Azure Function (``project_shim``) and the bare model.

Also the fresh-process cold starts that need no server: the floor (python + imports + the
model library's own load + one prediction) and the function invoked in a new interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.services import ROOT


@dataclass
class FunctionContext:
    """The invocation-context attributes the ASGI shim reads (tests use it too)."""

    invocation_id: str
    function_name: str = "http_app_func"
    function_directory: str = str(ROOT)
    thread_local_storage: Any = None
    trace_context: Any = None
    retry_context: Any = None


class ShimInvoker:
    """Calls the function ``function_app.build`` registers, as the Functions worker does."""

    def __init__(self, settings: Any) -> None:
        import function_app

        self.app = function_app.build(settings)
        (function,) = self.app.get_functions()
        self.function = function.get_user_function()
        self.loop = asyncio.new_event_loop()

    @property
    def model(self) -> Any:
        return self.app.middleware._app.state.services.manager.current

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        import azure.functions as func

        request = func.HttpRequest(
            method="POST",
            url=f"http://localhost:7071{path}",
            headers={"content-type": "application/json"},
            body=body,
        )
        response = self.loop.run_until_complete(self.function(request, FunctionContext(uuid.uuid4().hex)))
        return response.status_code, response.get_body()

    def close(self) -> None:
        self.app.middleware._app.state.services.manager.close()
        if self.app.startup_task_done:
            # A clean lifespan shutdown on the loop that ran startup; otherwise
            # AsgiFunctionApp.__del__ runs it later on a new loop, where it never finishes.
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(asyncio.wait_for(self.app.middleware.notify_shutdown(), 10))
            self.app.startup_task_done = False
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()


def time_calls(call: Callable[[], Any], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


SHIM_SCRIPT = """
import asyncio, json, sys, uuid
import azure.functions as func
import function_app
from benchmarks.inproc import FunctionContext
(function,) = function_app.app.get_functions()
request = func.HttpRequest(method="POST", url="http://localhost:7071/invocations",
                           headers={"content-type": "application/json"},
                           body=sys.argv[1].encode())
response = asyncio.run(function.get_user_function()(request, FunctionContext(uuid.uuid4().hex)))
assert response.status_code == 200, response.get_body()
first = json.loads(response.get_body())["predictions"][0]
print(next(iter(first.values())) if isinstance(first, dict) else first, flush=True)
"""


def fresh_process_seconds(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120.0
) -> tuple[float, str]:
    """Seconds from launching a new interpreter to its first line of output."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    _, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0 or not line.strip():
        raise RuntimeError(f"cold-start probe failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, line.decode().strip()


def floor_cold_start(
    model_file: Path, trusted: list[str], row: dict[str, float], env: dict[str, str], flavor: str = "sklearn"
) -> tuple[float, float]:
    from benchmarks.flavors import FLOOR_SCRIPTS

    seconds, out = fresh_process_seconds(
        ["-c", FLOOR_SCRIPTS[flavor], str(model_file), json.dumps(trusted), json.dumps(row)], env
    )
    return seconds, float(out)


def shim_cold_start(body: bytes, env: dict[str, str]) -> tuple[float, float]:
    seconds, out = fresh_process_seconds(["-c", SHIM_SCRIPT, body.decode()], env)
    return seconds, float(out)
