"""Model references: ``models:/`` and ``runs:/`` URIs, and which ones the settings configure.

The one place that decides precedence: MODEL_URI, then the registry's MODEL_VERSION >
MODEL_STAGE > MODEL_ALIAS > latest, then MODEL_RUN_ID, then MODEL_RUN_NAME.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from app.settings import Settings

RefKind = Literal["alias", "stage", "version", "latest", "run", "run_name"]
_STAGES = {"none", "staging", "production", "archived"}
MOVING: frozenset[str] = frozenset({"alias", "stage", "latest"})


@dataclass(frozen=True)
class ModelRef:
    """A reference to a model: a registry version, stage, alias or latest; or a run artifact."""

    kind: RefKind
    name: str  # model name; the run id for kind "run"; the run name for kind "run_name"
    ref: str | None = None  # alias, stage, version, or a run's artifact path

    @property
    def uri(self) -> str:
        if self.kind == "run":
            return f"runs:/{self.name}/{self.ref}"
        if self.kind == "run_name":
            return f"run_name={self.name}"
        if self.kind == "alias":
            return f"models:/{self.name}@{self.ref}"
        return f"models:/{self.name}/{self.ref}"


def parse_uri(uri: str) -> ModelRef:
    uri = uri.strip()
    if match := re.fullmatch(r"runs:/([^/]+)/(.+)", uri):
        return ModelRef("run", match.group(1), match.group(2).strip("/"))
    if match := re.fullmatch(r"models:/([^/@]+)@([\w\-]+)", uri):
        return ModelRef("alias", match.group(1), match.group(2))
    if match := re.fullmatch(r"models:/([^/@]+)/([^/]+)", uri):
        name, ref = match.group(1), match.group(2)
        if ref.isdigit():
            return ModelRef("version", name, ref)
        if ref.lower() == "latest":
            return ModelRef("latest", name, "latest")
        if ref.lower() in _STAGES:
            return ModelRef("stage", name, ref.capitalize())
    raise ValueError(
        "unsupported MODEL_URI: use models:/name@alias, models:/name/<Stage>, "
        "models:/name/<version>, models:/name/latest or runs:/<run_id>/<path>"
    )


def registry_ref(settings: Settings) -> ModelRef:
    """The registry reference of MODEL_NAME: version > stage > alias > latest."""
    name = settings.model_name
    if settings.model_version:
        return ModelRef("version", name, settings.model_version)
    if settings.model_stage:
        return ModelRef("stage", name, settings.model_stage.capitalize())
    if settings.model_alias:
        return ModelRef("alias", name, settings.model_alias)
    return ModelRef("latest", name, "latest")


def configured(settings: Settings) -> list[tuple[str, ModelRef]]:
    """(source label, reference) for every configured registry/run source, in priority order.

    Raises ValueError for an unparsable MODEL_URI."""
    refs: list[tuple[str, ModelRef]] = []
    if settings.model_uri:
        refs.append(("model_uri", parse_uri(settings.model_uri)))
    if settings.use_mlflow_registry and settings.model_name:
        refs.append(("registry", registry_ref(settings)))
    if settings.model_run_id:
        refs.append(("run_id", ModelRef("run", settings.model_run_id, settings.model_artifact_path)))
    if settings.model_run_name:
        refs.append(("run_name", ModelRef("run_name", settings.model_run_name, settings.model_artifact_path)))
    return refs


def tracked(settings: Settings) -> ModelRef | None:
    """The moving reference a running instance follows (alias, stage or latest), or None
    when what it serves is pinned (a version or a run)."""
    try:
        refs = configured(settings)
    except ValueError:
        return None
    if not refs:
        return None
    ref = refs[0][1]
    return ref if ref.kind in MOVING else None
