"""Helpers shared by the infra tests: checkov gating and broken copies of infra/terraform."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.infra import checks


def require_checkov() -> None:
    """checkov lives in .tools/checkov (`scripts/dev.sh test` installs it). Missing: CI fails, local skips."""
    if checks.checkov_available():
        return
    message = (
        f"checkov not found at {checks.CHECKOV_BIN}; run the tests with `scripts/dev.sh test` "
        "(installs infra/requirements-checkov.txt into .tools/checkov)"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def copy_terraform(destination: Path) -> Path:
    """A copy of infra/terraform under destination (without .terraform/ or state)."""
    target = destination / "terraform"
    shutil.copytree(checks.TERRAFORM_DIR, target, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    return target


def mutate(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace `old` (which must be present) in a copied file."""
    text = path.read_text()
    assert old in text, f"{old!r} not found in {path.name}: the broken-copy test is out of date"
    path.write_text(text.replace(old, new, count))
