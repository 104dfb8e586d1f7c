"""The local stack's settings for the command line, as `func start` gives them to the app.

``scripts/dev.sh up`` writes the settings it runs with (MLflow and Azurite addresses, and any
setting given in its environment) to ``local.settings.json``. ``python -m app`` reads that
file from the working directory, so lifecycle commands talk to the same registry and publish
to the same storage as the running API without any export; a variable set in the
environment wins over the file. ``LOCAL_SETTINGS_FILE`` names another file; empty, none.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path

FILE_VARIABLE = "LOCAL_SETTINGS_FILE"
DEFAULT_FILE = "local.settings.json"


def settings_file(environ: MutableMapping[str, str]) -> Path | None:
    name = environ.get(FILE_VARIABLE, DEFAULT_FILE)
    return Path(name) if name.strip() else None


def read_values(path: Path) -> dict[str, str]:
    """The ``Values`` of a Functions local settings file; an error names the file, not its content."""
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path} is not a readable local settings file ({type(exc).__name__})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: 'Values' is not an object")
    return {str(key): str(value) for key, value in values.items() if value is not None}


def apply(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Copy the file's values into ``environ`` where it has none; the file used, if any."""
    path = settings_file(environ)
    if path is None or not path.is_file():
        return None
    for key, value in read_values(path).items():
        environ.setdefault(key, value)
    return path
