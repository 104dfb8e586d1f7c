"""The body limit over real HTTP: uvicorn in a subprocess, 50 MB bodies, peak RSS measured.

A body over MAX_BODY_BYTES must be refused with 413 before it is read into memory: the
server's peak resident memory (VmHWM) may grow by far less than the 50 MB sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.services import ROOT, free_port, wait_for_http

MB = 1024 * 1024
LIMIT = 5 * MB  # set below: the RSS bound is relative to it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AzureWebJobsStorage", "MODEL_STORAGE_CONNECTION_STRING", "MAX_BODY_BYTES")
    }
    env.update(
        USE_MLFLOW_REGISTRY="false",
        MODEL_FALLBACK_ENABLED="false",
        MAX_BODY_BYTES=str(LIMIT),
        STARTUP_WAIT_SECONDS="0",
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}",
    )
    log = Path(tmp_path_factory.mktemp("uvicorn")) / "uvicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_for_http(f"http://127.0.0.1:{port}/health/live", 60, proc)
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"{exc}\nserver log:\n{log.read_text(errors='replace')}") from exc
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def _chunks(total: int, size: int = MB) -> Iterator[bytes]:
    chunk = b"x" * size
    for _ in range(total // size):
        yield chunk


def test_fifty_megabyte_bodies_are_refused_without_being_read(server: tuple[str, int]) -> None:
    url, pid = server
    with httpx.Client(base_url=url, timeout=60) as client:
        warm = client.post("/predict", json={"instances": [{"age": 0.1}]})
        assert warm.status_code == 503  # no model configured; the route itself works
        before = _peak_rss_kb(pid)

        chunked = client.post(
            "/predict", content=_chunks(50 * MB), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413
        assert chunked.json()["error"] == "payload_too_large"

        declared = client.post(
            "/invocations", content=b"x" * (50 * MB), headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.json()["error_code"] == "BAD_REQUEST"
        growth_mb = (_peak_rss_kb(pid) - before) / 1024
        assert client.get("/health/live").status_code == 200
    # The chunked body is buffered only up to the 5 MB limit; 50 MB were sent twice.
    assert growth_mb < 20, f"peak RSS grew by {growth_mb:.1f} MB"


def test_body_just_over_the_limit_is_413_and_under_is_parsed(server: tuple[str, int]) -> None:
    url, _ = server
    with httpx.Client(base_url=url, timeout=60) as client:
        over = client.post(
            "/predict", content=b" " * (LIMIT + 1), headers={"content-type": "application/json"}
        )
        assert over.status_code == 413
        assert over.json() == {
            "error": "payload_too_large",
            "field": "body",
            "message": f"The body is larger than {LIMIT} bytes.",
        }
        under = client.post("/predict", content=b" " * LIMIT, headers={"content-type": "application/json"})
        assert under.status_code in (400, 503)  # reached the route: parsed, not size-refused
