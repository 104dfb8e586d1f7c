"""One locked dependency set: the locks match their inputs, and the test venv runs what ships.

``requirements.lock`` is what the deployment zip installs (``--require-hashes``);
``requirements-dev.lock`` is compiled with it as constraints, so the venv these tests run in
holds exactly the runtime versions of the zip. ``scripts/dev.sh lock`` regenerates both.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from deploy import lockfile

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
SERVER_LOCK = ROOT / "requirements-mlflow-server.lock"


def _requirements(path: Path) -> list[Requirement]:
    """The requirements of a pip requirements file, following ``-r`` includes."""
    found: list[Requirement] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += _requirements(path.parent / line[3:].strip())
        elif line:
            found.append(Requirement(line))
    return found


def _unlocked(requirements: Path, lock: Path) -> list[str]:
    pins = lockfile.pins(lock)
    problems = []
    for req in _requirements(requirements):
        version = pins.get(lockfile.canonical(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req} -> {version or 'missing'}")
    return problems


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [
        ("requirements.txt", "requirements.lock"),
        ("requirements-dev.txt", "requirements-dev.lock"),
        ("requirements-mlflow-server.txt", "requirements-mlflow-server.lock"),
    ],
)
def test_every_lock_satisfies_its_requirements(requirements: str, lock: str) -> None:
    """A requirement edited without `scripts/dev.sh lock` fails here."""
    assert _unlocked(ROOT / requirements, ROOT / lock) == []


def test_stale_lock_is_detected(tmp_path: Path) -> None:
    newer = tmp_path / "requirements.txt"
    newer.write_text("pandas>=99\nfastapi>=0.1\n")
    assert _unlocked(newer, RUNTIME_LOCK) == [f"pandas>=99 -> {lockfile.pins(RUNTIME_LOCK)['pandas']}"]


def test_locks_pin_every_package_with_hashes() -> None:
    for lock in (RUNTIME_LOCK, DEV_LOCK, SERVER_LOCK):
        entries = [line for line in lock.read_text().splitlines() if line[:1].isalnum()]
        assert entries and len(entries) == len(lockfile.pins(lock)), lock.name
        text = lock.read_text()
        assert text.count("--hash=sha256:") >= len(entries), lock.name
        assert "scripts/dev.sh lock" in text.splitlines()[1], "regenerate with scripts/dev.sh lock"


def test_dev_lock_holds_the_runtime_pins_unchanged() -> None:
    runtime, dev = lockfile.pins(RUNTIME_LOCK), lockfile.pins(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime


def test_test_venv_runs_the_versions_that_ship() -> None:
    """CI's test venv (this interpreter) has exactly the zip's runtime versions."""
    installed = {lockfile.canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    runtime = lockfile.pins(RUNTIME_LOCK)
    assert {name: installed.get(name) for name in runtime} == runtime
    # Nothing the dev lock does not know was added by hand (pip, which venv seeds, aside).
    extra = set(installed) - set(lockfile.pins(DEV_LOCK)) - {"pip", "setuptools", "wheel"}
    assert extra == set()


def test_full_mlflow_stays_out_of_the_test_venv() -> None:
    """The server distribution pins pandas<3: it lives in .tools/mlflow, never here."""
    assert "mlflow" not in lockfile.pins(DEV_LOCK)
    assert lockfile.pins(SERVER_LOCK)["mlflow"] == lockfile.pins(RUNTIME_LOCK)["mlflow-skinny"]
