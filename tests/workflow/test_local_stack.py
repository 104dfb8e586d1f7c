"""Issue 16, acceptance 3: `scripts/dev.sh up`, README's walkthrough as printed, Ctrl-C, `up` again, `down`.

The walkthrough blocks are read from README.md (each follows a marker comment), so whatever
README shows is what runs. Two things differ from a developer's terminal, both so that the test
never touches the developer's own stack: the stack runs on free ports under a temporary
``--state-dir`` with its own ``--settings-file`` (the blocks' ``127.0.0.1:8000`` becomes the
test's API port, and ``LOCAL_SETTINGS_FILE`` points the CLI at the test's settings file), and
Ctrl-C is a SIGINT sent to the `up` process (the terminal sends it to `up`'s process group;
the services run in their own sessions either way).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from devstack import ports
from devstack.services import free_port

ROOT = Path(__file__).resolve().parents[2]
DEV = str(ROOT / "scripts" / "dev.sh")
MARKER = "<!-- walkthrough: run as printed by tests/workflow/test_local_stack.py -->"
UP_LINE = "ADMIN_API_KEY=dev-admin-key MLFLOW_WEBHOOK_SECRET=dev-webhook-secret scripts/dev.sh up"
MODEL = "diabetes-regressor"


def walkthrough_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = []
    for part in text.split(MARKER)[1:]:
        match = re.match(r"\s*```bash\n(.*?)\n```", part, re.DOTALL)
        assert match, "a walkthrough marker must be followed by a ```bash block"
        blocks.append(match.group(1))
    return blocks


def _base_env() -> dict[str, str]:
    """The caller's environment without any app, MLflow or Functions setting."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("MLFLOW_", "MODEL_", "FUNCTIONS_", "AzureWebJobs", "LOCAL_SETTINGS", "ADMIN_API_KEY")
        )
    }


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.state = tmp / "state"
        self.settings = tmp / "local.settings.json"
        self.ports = {"api": free_port(), "mlflow": free_port(), "azurite": free_port()}
        self.logs = tmp
        self.runs = 0

    def flags(self) -> list[str]:
        return [
            "--port",
            str(self.ports["api"]),
            "--mlflow-port",
            str(self.ports["mlflow"]),
            "--azurite-port",
            str(self.ports["azurite"]),
            "--state-dir",
            str(self.state),
            "--settings-file",
            str(self.settings),
        ]

    def up(self, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
        self.runs += 1
        log = self.logs / f"up-{self.runs}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [DEV, "up", *self.flags()],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 600
        while "\nready in " not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, "up did not get ready"
            time.sleep(0.5)
        return proc, log

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DEV, *args, "--state-dir", str(self.state)],
            env=env or _base_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def pids(self) -> dict[str, int]:
        lines = self.run("status").stdout.splitlines()
        return {line.split()[0]: int(line.split()[3]) for line in lines if " pid " in line}

    def nothing_left(self, pids: dict[str, int]) -> None:
        left = [
            name
            for name, pid in pids.items()
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]
        assert left == []
        assert [name for name, port in self.ports.items() if not ports.is_free(port)] == []
        strays = []
        for proc in psutil.process_iter(["cmdline"]):
            if str(self.state) in " ".join(proc.info["cmdline"] or []):
                strays.append(proc.pid)
        assert strays == []


def _get(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    yield stack
    stack.run("down")  # whatever a failed assertion left running


@pytest.mark.timeout(1500)
def test_up_walkthrough_ctrl_c_up_again_and_down(stack: Stack) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert UP_LINE in readme
    blocks = walkthrough_blocks()
    assert len(blocks) == 3 and all("scripts/dev.sh app" in block for block in blocks)
    env = {**_base_env(), "ADMIN_API_KEY": "dev-admin-key", "MLFLOW_WEBHOOK_SECRET": "dev-webhook-secret"}
    api = f"http://127.0.0.1:{stack.ports['api']}"

    # 1. up: settings from the environment reach the API and the settings file.
    up, log = stack.up(env)
    banner = log.read_text()
    assert "admin API   on" in banner and "webhooks    on" in banner
    assert "from the environment: ADMIN_API_KEY, MLFLOW_WEBHOOK_SECRET" in banner
    values = json.loads(stack.settings.read_text())["Values"]
    assert values["ADMIN_API_KEY"] == "dev-admin-key"
    assert values["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{stack.ports['mlflow']}"
    assert _get(f"{api}/registry/models", {"x-admin-key": "dev-admin-key"})["models"][0]["name"] == MODEL
    status = stack.run("status")
    assert status.returncode == 0 and status.stdout.count(" running ") == 3, status.stdout
    pids = stack.pids()
    assert set(pids) == {"MLflow", "Azurite", "API"}

    # 2. A second up reuses nothing: refused while the first runs, and busy ports are named.
    other_settings = ["--settings-file", str(stack.settings.with_name("other.json"))]
    again = stack.run("up", *stack.flags()[:6], *other_settings)
    assert again.returncode == 1 and "an earlier `up` still runs" in again.stderr
    assert "scripts/dev.sh down" in again.stderr
    elsewhere = subprocess.run(
        [DEV, "up", *stack.flags()[:6], *other_settings, "--state-dir", str(stack.state.parent / "x")],
        env=_base_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert elsewhere.returncode == 1
    for name, flag in (("API", "--port"), ("MLflow", "--mlflow-port"), ("Azurite", "--azurite-port")):
        port = stack.ports[{"API": "api", "MLflow": "mlflow", "Azurite": "azurite"}[name]]
        assert f"port {port} ({name}) is in use by pid " in elsewhere.stderr, elsewhere.stderr
        assert flag in elsewhere.stderr
    assert not stack.settings.with_name("other.json").exists()

    # 3. README's walkthrough, as printed (the API port and settings file are the test's).
    walk_env = {**_base_env(), "LOCAL_SETTINGS_FILE": str(stack.settings)}

    def champion() -> str:
        models = _get(f"{api}/registry/models", {"x-admin-key": "dev-admin-key"})["models"]
        return str(next(m for m in models if m["name"] == MODEL)["aliases"]["champion"])

    outputs = []
    # signature checked with the standard tool; rolled back; promoted over HTTP
    for block, holder in zip(blocks, ["1", "1", "2"], strict=True):
        script = block.replace("127.0.0.1:8000", f"127.0.0.1:{stack.ports['api']}")
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=walk_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{script}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        outputs.append(proc.stdout)
        assert champion() == holder
    assert '"verified": true' in outputs[0]
    assert '"version": "2"' in outputs[1] and '"promoted": true' in outputs[1]
    assert '"promoted":true' in outputs[2].replace(" ", "")
    # The CLI found the stack's Azurite by itself: the fallback follows every promotion.
    from app.model_loading.fetch_blob import read_pointer
    from app.settings import Settings

    assert read_pointer(Settings(**values), MODEL).version == "2"
    deadline = time.monotonic() + 60
    while _get(f"{api}/model/info")["version"] != "2":
        assert time.monotonic() < deadline, "the API did not follow the promotion"
        time.sleep(1)

    # 4. Ctrl-C stops everything, one line per service, nothing left behind.
    interrupted = time.monotonic()
    os.kill(up.pid, signal.SIGINT)
    up.wait(timeout=30)
    elapsed = time.monotonic() - interrupted
    print(f"\nCtrl-C: up exited {elapsed:.2f} s after SIGINT")
    tail = log.read_text().split("stopping ...", 1)[1]
    for name in ("API", "MLflow", "Azurite"):
        assert re.search(rf"^(stopped|killed) {name} \(pid {pids[name]}\)", tail, re.MULTILINE), tail
    stack.nothing_left(pids)
    assert stack.run("status").returncode == 3
    # Issue 16 asks for Ctrl-C "under 3 s" (it took 16-19 s); measured around the whole
    # process exit, with a generous margin only for process start-up noise, not a micro-timing.
    assert elapsed < 3.0, elapsed

    # 5. A second up works (same data: no training), and `down` cleans up after a killed `up`.
    up, log = stack.up(_base_env())
    assert "training" not in log.read_text()
    pids = stack.pids()
    os.killpg(up.pid, signal.SIGKILL)  # only `up` itself: the services run in their own sessions
    up.wait(timeout=10)
    assert all(psutil.pid_exists(pid) for pid in pids.values())
    down = stack.run("down")
    assert down.returncode == 0, down.stderr
    for name in ("API", "MLflow", "Azurite"):
        assert re.search(rf"^(stopped|killed) {name} \(pid {pids[name]}\)", down.stdout, re.MULTILINE)
    stack.nothing_left(pids)
    assert "nothing to stop" in stack.run("down").stdout
