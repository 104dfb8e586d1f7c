"""The settings the local stack runs with, kept in local.settings.json.

Precedence, lowest first: ``local.settings.example.json`` (every setting, local defaults),
the existing ``local.settings.json`` (your edits survive `up`), the environment of `up`
(``ADMIN_API_KEY=... scripts/dev.sh up``), and last what the stack itself decides (the
MLflow and Azurite addresses). The result is written back, so ``python -m app`` (which reads
the file) and ``func start`` see the settings the running API has.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.settings import all_setting_names

#: Set by the Functions host (or a container runtime), never taken from a developer's shell.
HOST_PROVIDED = frozenset({"FUNCTIONS_WORKER_RUNTIME", "WEBSITE_INSTANCE_ID", "CONTAINER_NAME"})


@dataclass(frozen=True)
class StackSettings:
    values: dict[str, str]
    from_environment: list[str]  # names only: values may be secrets


def _values(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    except (ValueError, AttributeError):
        raise SystemExit(f"error: {path} is not valid JSON; fix or delete it") from None
    return {str(k): str(v) for k, v in values.items() if v is not None}


def compose(
    example: Path, existing: Path, environ: Mapping[str, str], stack: Mapping[str, str]
) -> StackSettings:
    values = {**_values(example), **_values(existing)}
    known = (set(values) | all_setting_names()) - HOST_PROVIDED
    from_env = sorted(k for k in known if k not in stack and environ.get(k, "").strip())
    values.update({k: environ[k] for k in from_env})
    values.update(stack)
    return StackSettings(values, from_env)


def write(path: Path, settings: StackSettings) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"IsEncrypted": False, "Values": settings.values}, indent=2) + "\n")
    os.chmod(partial, 0o600)  # it may hold the admin key and the webhook secret
    partial.replace(path)
