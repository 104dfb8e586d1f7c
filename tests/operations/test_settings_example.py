"""local.settings.example.json lists settings the app really reads, with valid values."""

from __future__ import annotations

import json
from pathlib import Path

from app.settings import Settings, all_setting_names

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PREFIXES = ("FUNCTIONS_", "AzureWebJobs")


def test_example_settings_are_read_by_the_app_and_parse() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    unknown = {k for k in values if k not in all_setting_names() and not k.startswith(RUNTIME_PREFIXES)}
    assert unknown == set()
    settings = Settings(**{k: v for k, v in values.items() if k in all_setting_names()})
    assert settings.model_alias == "champion" and settings.prediction_log_enabled is False
