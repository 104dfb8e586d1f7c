"""Fixtures for the offline Terraform checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infra import checks
from tests.infra.helpers import copy_terraform, require_checkov


@pytest.fixture
def broken_copy(tmp_path: Path) -> Callable[[], Path]:
    """A fresh copy of infra/terraform to break: broken_copy() -> directory."""

    def make() -> Path:
        return copy_terraform(tmp_path)

    return make


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    require_checkov()
    return checks.run_checkov(checks.TERRAFORM_DIR)
