"""Runtime requirement ranges exclude versions with known code-execution advisories."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
# package -> the newest vulnerable release a range must exclude, and why.
VULNERABLE = {
    # GHSA-m7f4-hrc6-fwg3: a hidden `operator` call runs despite trusted types (and the
    # related MethodNode issue); both fixed in skops 0.12.0 (security review F15).
    "skops": ("0.11.0", "CVE-2025-54412"),
}


def _requirements() -> dict[str, Requirement]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    parsed = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {req.name.lower(): req for req in parsed}


@pytest.mark.parametrize("package", sorted(VULNERABLE))
def test_vulnerable_versions_are_excluded(package: str) -> None:
    vulnerable, advisory = VULNERABLE[package]
    requirement = _requirements()[package]
    assert not requirement.specifier.contains(vulnerable), (
        f"{requirement} still allows {package} {vulnerable} ({advisory})"
    )
    assert requirement.specifier.contains("0.12.0") or package != "skops"
