"""Registry housekeeping: compare versions, list models, clean up old versions, register runs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from app.model_loading.fetch_mlflow import client, literal
from app.settings import Settings

log = logging.getLogger(__name__)


_PROTECTED_STAGES = {"None", "Archived", ""}


def _iso(millis: int | None) -> str | None:
    if not millis:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat()


def _versions(settings: Settings, name: str) -> list[Any]:
    found = client(settings).search_model_versions(f"name = {literal(name)}")
    return sorted(found, key=lambda mv: int(mv.version), reverse=True)


def _aliases(settings: Settings, name: str) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = {}
    model = client(settings).get_registered_model(name)
    for alias, version in (model.aliases or {}).items():
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _stage(stage: str | None) -> str | None:
    """MLflow reports a version without a stage as the string "None"."""
    return None if stage in (None, "", "None") else stage


def compare(settings: Settings, name: str) -> list[dict[str, Any]]:
    """One row per version, newest first, with its aliases, stage and metrics."""
    mlflow_client = client(settings)
    aliases = _aliases(settings, name)
    rows: list[dict[str, Any]] = []
    for mv in _versions(settings, name):
        metrics: dict[str, float] = {}
        if mv.run_id:
            metrics = dict(sorted(mlflow_client.get_run(mv.run_id).data.metrics.items()))
        rows.append(
            {
                "version": str(mv.version),
                "aliases": sorted(aliases.get(str(mv.version), [])),
                "stage": _stage(mv.current_stage),
                "metrics": metrics,
                "created": _iso(mv.creation_timestamp),
                "run_id": mv.run_id,
            }
        )
    return rows


def describe(settings: Settings, name: str) -> dict[str, Any]:
    """A model with every version (as `compare` rows), its aliases and their history."""
    from app.lifecycle.promotion import HISTORY_TAG_PREFIX, alias_history

    model = client(settings).get_registered_model(name)
    history_aliases = {
        key[len(HISTORY_TAG_PREFIX) :] for key in (model.tags or {}) if key.startswith(HISTORY_TAG_PREFIX)
    }
    aliases = dict(model.aliases or {})
    return {
        "name": model.name,
        "description": model.description or None,
        "aliases": {alias: str(version) for alias, version in sorted(aliases.items())},
        "alias_history": {
            alias: alias_history(settings, name, alias) for alias in sorted(history_aliases | set(aliases))
        },
        "fallback_version": fallback_version(settings, name),
        "versions": compare(settings, name),
    }


def list_models(settings: Settings) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for model in client(settings).search_registered_models():
        versions = _versions(settings, model.name)
        rows.append(
            {
                "name": model.name,
                "latest_version": str(versions[0].version) if versions else None,
                "aliases": dict(model.aliases or {}),
                "stages": {
                    str(mv.version): mv.current_stage
                    for mv in versions
                    if mv.current_stage not in _PROTECTED_STAGES
                },
            }
        )
    return rows


def fallback_version(settings: Settings, name: str) -> str | None:
    """The version the blob fallback pointer backs, or None if unknown/unreadable."""
    if not settings.has_storage:
        return None
    from app.model_loading.fetch_blob import read_pointer

    try:
        return str(read_pointer(settings, name).version)
    except Exception as exc:  # noqa: BLE001 - any failure just means "no pointer known"
        log.info("no fallback pointer for %s: %s", name, exc)
        return None


def cleanup(settings: Settings, name: str, keep: int, apply: bool = False) -> dict[str, Any]:
    """Delete all but the newest `keep` versions, sparing aliased/staged/fallback versions."""
    if keep < 0:
        raise ValueError("keep must be >= 0")
    aliases = _aliases(settings, name)
    fallback = fallback_version(settings, name)
    kept: list[dict[str, str]] = []
    deleted: list[str] = []
    for index, mv in enumerate(_versions(settings, name)):
        version = str(mv.version)
        reason = None
        if index < keep:
            reason = "newest"
        elif aliases.get(version):
            reason = "alias " + ",".join(sorted(aliases[version]))
        elif mv.current_stage not in _PROTECTED_STAGES:
            reason = f"stage {mv.current_stage}"
        elif version == fallback:
            reason = "backs the blob fallback"
        if reason:
            kept.append({"version": version, "reason": reason})
            continue
        if apply:
            client(settings).delete_model_version(name, version)
        deleted.append(version)
    return {
        "model_name": name,
        "applied": apply,
        "kept": kept,
        ("deleted" if apply else "would_delete"): deleted,
    }


def register(
    settings: Settings,
    run_id: str,
    name: str,
    *,
    trust_types: list[str] | None = None,
    allow_pickle_format: bool = False,
    sign: bool = True,
) -> dict[str, Any]:
    """Register ``runs:/<run_id>/model`` as a new version and sign it (when a signing key is
    configured and ``sign``); skops types beyond the defaults must be confirmed."""
    import mlflow

    from app.model_loading.fetch_mlflow import ensure_configured

    ensure_configured(settings)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mv = mlflow.register_model(f"runs:/{run_id}/model", name)
    out: dict[str, Any] = {"model_name": name, "version": str(mv.version), "run_id": run_id, "signed": False}
    if sign and settings.model_signing_key:
        from app.lifecycle.signing import sign_version

        signed = sign_version(
            settings,
            name,
            str(mv.version),
            trust_types=trust_types or [],
            allow_pickle_format=allow_pickle_format,
        )
        out |= {"signed": True, "key_id": signed.key_id, "files": sorted(signed.files)}
    return out


WEBHOOK_EVENTS = ("model_version_alias.created", "model_version_alias.deleted")


def register_webhook(settings: Settings, url: str, name: str = "model-serving") -> dict[str, Any]:
    """Create (or update, by name) the registry webhook that makes instances refresh at once.

    The secret is the app's own ``MLFLOW_WEBHOOK_SECRET``, so deliveries verify.
    """
    if settings.webhook_secret is None:
        raise ValueError("MLFLOW_WEBHOOK_SECRET is not set: the webhook would be unsigned")
    if not url.startswith(("https://", "http://")):
        raise ValueError("the webhook URL must be http(s)://.../hooks/mlflow")
    mlflow_client = client(settings)
    secret = settings.webhook_secret.get_secret_value()
    existing = [hook for hook in mlflow_client.list_webhooks() if hook.name == name]
    if existing:
        hook = mlflow_client.update_webhook(
            existing[0].webhook_id, url=url, events=list(WEBHOOK_EVENTS), secret=secret
        )
    else:
        hook = mlflow_client.create_webhook(name=name, url=url, events=list(WEBHOOK_EVENTS), secret=secret)
    # The URL may carry a function key (?code=...): report only where it points.
    return {
        "webhook_id": hook.webhook_id,
        "name": hook.name,
        "url": url.split("?", 1)[0],
        "events": list(WEBHOOK_EVENTS),
        "updated": bool(existing),
    }
