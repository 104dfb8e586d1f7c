"""Shared helpers for the flex consumption function app policies (not a check)."""

from __future__ import annotations

from typing import Any


def first(conf: dict[str, Any], key: str) -> Any:
    """checkov wraps every attribute value in a list; unwrap it (None if absent)."""
    value = conf.get(key)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def is_variable_reference(value: Any) -> bool:
    """An unresolved `var.x` (checkov leaves variables without a default unresolved)."""
    return isinstance(value, str) and "var." in value
