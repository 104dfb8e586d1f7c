"""Start and stop the real services the project talks to, on free local ports.

- MLflow: ``mlflow server`` with a SQLite backend and local artifacts, as a subprocess.
- Azurite: through testcontainers when a Docker engine answers, otherwise the npm
  ``azurite-blob`` process installed by the project's own ``package.json``.
Both support stop/start on the same port and pause/resume (SIGSTOP: the socket still
accepts connections but nothing answers), for fault-injection tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The MLflow tracking server runs from its own environment (scripts/dev.sh bootstrap,
# requirements-mlflow-server.lock): the full `mlflow` distribution pins pandas<3 and
# cryptography<50, which must not hold back the runtime versions the tests run.
MLFLOW_SERVER_PYTHON = ROOT / ".tools" / "mlflow" / "bin" / "python"
# Azurite's documented development account. Public and well known; it only works against
# a local emulator, never against Azure.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on port {port} within {timeout:.0f}s")


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
                if response.status < 500:
                    return
        except Exception as exc:  # noqa: BLE001
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s ({last})")


def docker_available() -> bool:
    if os.environ.get("DEVSTACK_NO_DOCKER") == "1" or shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class _Process:
    """A service subprocess we can stop, restart on the same port, pause and resume."""

    name = "service"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self, timeout: float) -> None:
        wait_for_port(self.port, timeout, self.proc)

    def start(self, timeout: float = 90.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
            cwd=self.workdir,
            start_new_session=True,
        )
        try:
            self.ready(timeout)
        except (OSError, RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{self.name} failed to start; log tail:\n{self.log_tail()}") from exc

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL after ``timeout`` seconds."""
        if self.proc is None:
            return
        self.resume()
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None

    def pause(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# `mlflow server` supervises a uvicorn child, which serves and owns the database. After the
# child had stopped, the supervisor spent 2-2.5 s of CPU finalizing the modules it imported
# (strace: no system calls in between), so every stop waited for it; it now exits at once.
_MLFLOW_CLI_EXIT_AT_ONCE = """\
import os, sys
from mlflow.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="mlflow")
    code = 0
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
"""


class MLflowServer(_Process):
    name = "mlflow"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if not MLFLOW_SERVER_PYTHON.exists():
            raise RuntimeError(
                f"the MLflow server environment {MLFLOW_SERVER_PYTHON.parent.parent} "
                "is missing: run `scripts/dev.sh bootstrap`"
            )
        return [
            str(MLFLOW_SERVER_PYTHON),
            "-c",
            _MLFLOW_CLI_EXIT_AT_ONCE,
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # Deliver webhooks to plain-HTTP localhost receivers, and see new webhooks at once.
        env["MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"] = "true"
        env["MLFLOW_WEBHOOK_ALLOWED_SCHEMES"] = "http,https"
        env.setdefault("MLFLOW_WEBHOOK_CACHE_TTL", "1")
        # MLflow's job runner (GenAI jobs; webhooks do not use it) would start ~8 huey
        # consumers of ~250 MB each that poll the CPU for nothing this product needs.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        # MLflow 3 sends usage telemetry; a local development or test server has no reason to.
        env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        return env

    def ready(self, timeout: float) -> None:
        wait_for_http(f"{self.url}/health", timeout, self.proc)


class AzuriteProcess(_Process):
    name = "azurite"

    def command(self) -> list[str]:
        binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
        if not binary.exists():
            raise RuntimeError("Azurite is not installed: run `npm ci` in the project root")
        # --disableTelemetry: Azurite 3.37's telemetry client keeps node alive after SIGTERM
        # closed the server (and saved its metadata), so stopping it took a 15 s kill timeout;
        # without it SIGTERM ends the process in ~2 s. It also sends nothing to Microsoft.
        command = [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.port),
            "--location",
            str(self.workdir / "data"),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ]
        return command

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.blob_endpoint};"
        )


class AzuriteContainer:
    """Azurite in Docker via testcontainers (used when a Docker engine is reachable)."""

    def __init__(self, workdir: Path) -> None:
        from testcontainers.azurite import AzuriteContainer as _Container

        self.workdir = workdir
        self._container: Any = _Container()
        self.port = 0

    def start(self, timeout: float = 120.0) -> None:
        self._container.start()
        self.port = int(self._container.get_exposed_port(10000))

    def stop(self) -> None:
        self._container.stop()

    def pause(self) -> None:
        self._container.get_wrapped_container().pause()

    def resume(self) -> None:
        self._container.get_wrapped_container().unpause()

    @property
    def connection_string(self) -> str:
        return str(self._container.get_connection_string())


def azurite(workdir: Path) -> AzuriteProcess | AzuriteContainer:
    """The Azurite flavour this machine supports: Docker when it answers, else npm."""
    if docker_available():
        try:
            return AzuriteContainer(workdir)
        except ImportError:
            pass
    return AzuriteProcess(workdir)


def start_services(workdir: Path, storage: Callable[[Path], Any] = azurite) -> tuple[MLflowServer, Any]:
    """Start an MLflow server and Azurite under ``workdir``; on failure nothing is left running."""
    mlflow_server = MLflowServer(workdir / "mlflow")
    blob = storage(workdir / "azurite")
    mlflow_server.start()
    try:
        blob.start()
    except BaseException:
        mlflow_server.stop()
        raise
    return mlflow_server, blob
