"""Read a hash-locked requirements file and compare it with what was installed.

Standard library only: ``python -m deploy build-zip`` runs on a bare CI Python.
"""

from __future__ import annotations

import re
from email.parser import HeaderParser
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    """PEP 503 normalized project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """``{project: version}`` of every ``name==version`` line of a lock file."""
    found: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def installed(site_packages: Path) -> dict[str, str]:
    """``{project: version}`` of the distributions installed in a site-packages directory."""
    found: dict[str, str] = {}
    for metadata in site_packages.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(metadata.read_text(encoding="utf-8", errors="replace"))
        if headers["Name"] and headers["Version"]:
            found[canonical(headers["Name"])] = headers["Version"]
    return found


def differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Readable differences between a lock's pins and installed versions (empty: identical)."""
    problems = [
        f"{name}: locked {version}, installed {actual.get(name, 'nothing')}"
        for name, version in sorted(expected.items())
        if actual.get(name) != version
    ]
    problems += [
        f"{name}: installed {version}, not in the lock"
        for name, version in sorted(actual.items())
        if name not in expected
    ]
    return problems
