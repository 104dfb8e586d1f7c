"""Serving processes under test: launch, time to first prediction, memory, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import httpload
from devstack.services import ROOT, free_port


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without MLflow/app switches this process may have set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.setdefault("GIT_PYTHON_REFRESH", "quiet")
    env["PYTHONUNBUFFERED"] = "1"
    env["LOCAL_SETTINGS_FILE"] = ""  # `python -m app serve` must not read a local.settings.json
    # `mlflow models serve` execs `uvicorn` by name: find it next to this interpreter even
    # when the virtual env is not activated (scripts/dev.sh bench, CI).
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def project_command(port: int) -> list[str]:
    return [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]


def mlflow_serve_command(model_uri: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    cold_start_s: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def launch(self, body: bytes, path: str = "/invocations", timeout: float = 120.0) -> float:
        """Start the process; seconds from launch to the first successful prediction."""
        probe = httpload.request_bytes(self.port, path, body)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            asyncio.run(httpload.first_success(self.port, probe, time.monotonic() + timeout))
        except TimeoutError as exc:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            self.stop()
            raise RuntimeError(f"{self.name} never answered: {exc}\n{tail}") from exc
        self.cold_start_s = time.perf_counter() - started
        return self.cold_start_s

    def rss_mb(self) -> dict[str, float]:
        """RSS of the serving process (the leaf of the process tree) and of the whole tree."""
        assert self.proc is not None
        group = _session_processes(self.proc.pid)
        parents = {ppid for ppid, _ in group.values()}
        leaves = [pid for pid in group if pid not in parents] or [self.proc.pid]
        serving = max(leaves, key=lambda pid: group.get(pid, (0, 0.0))[1])
        return {
            "serving": round(group[serving][1], 1),
            "tree": round(sum(rss for _, rss in group.values()), 1),
        }

    def stop(self) -> None:
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None


def project_server(env: dict[str, str], logs: Path) -> Server:
    port = free_port()
    return Server("project_http", project_command(port), clean_env(env), port, logs / "project_http.log")


def mlflow_server(model_uri: str, tracking_uri: str, logs: Path) -> Server:
    port = free_port()
    env = clean_env(
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            # MLflow's skops/pickle loaders need it; the project keeps it off in-process
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        }
    )
    return Server("mlflow_serve", mlflow_serve_command(model_uri, port), env, port, logs / "mlflow_serve.log")


def _session_processes(sid: int) -> dict[int, tuple[int, float]]:
    """pid -> (ppid, RSS in MB) for every live process in session ``sid``."""
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ppid, session = int(fields[1]), int(fields[3])
            if session != sid:
                continue
            rss_kb = 0
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
            found[int(entry.name)] = (ppid, rss_kb / 1024)
        except (OSError, ValueError, IndexError):
            continue
    return found
