"""Promotion with a quality gate, alias history, rollback, and fallback publishing.

A promotion never half-happens (review finding F12): the version's signature is checked and
the blob fallback is published *first*; the alias (or stage) moves last. If any step fails,
nothing has moved and the caller gets the reason. Without storage the publish is an error,
unless the caller opts out (``publish=False``, CLI ``--no-fallback``).
"""

from __future__ import annotations

import json
import logging
import operator
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from app.model_loading import loader, trust
from app.model_loading.fetch_mlflow import client, ensure_configured
from app.model_loading.refs import ModelRef
from app.model_loading.types import LoadError
from app.settings import Settings

log = logging.getLogger(__name__)

DECISION_TAG = "serving.promotion_decision"
HISTORY_TAG_PREFIX = "serving.alias_history."
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


class NothingToRollBack(LookupError):
    """The alias has no earlier holder in its history."""


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Gate:
        match = re.fullmatch(r"\s*([\w.\-]+)\s*(>=|<=|>|<)\s*(-?[\d.]+(?:e-?\d+)?)\s*", text)
        if not match:
            raise ValueError(f"gate {text!r} must look like 'r2>=0.4' or 'rmse<=60'")
        return cls(match.group(1), match.group(2), float(match.group(3)))

    @property
    def higher_is_better(self) -> bool:
        return self.op.startswith(">")

    def passes(self, value: float) -> bool:
        return bool(_OPS[self.op](value, self.threshold))

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


@dataclass
class Decision:
    model_name: str
    version: str
    promoted: bool
    reason: str
    alias: str | None = None
    stage: str | None = None
    previous_version: str | None = None
    fallback_version: str | None = None
    signed_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def version_metrics(settings: Settings, name: str, version: str) -> dict[str, float]:
    mlflow_client = client(settings)
    mv = mlflow_client.get_model_version(name, version)
    if not mv.run_id:
        return {}
    return dict(mlflow_client.get_run(mv.run_id).data.metrics)


def alias_holder(settings: Settings, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client(settings).get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
            return None
        raise


def alias_history(settings: Settings, name: str, alias: str) -> list[str]:
    tags = client(settings).get_registered_model(name).tags
    try:
        history = json.loads(tags.get(HISTORY_TAG_PREFIX + alias, "[]"))
    except ValueError:
        return []
    return [str(v) for v in history] if isinstance(history, list) else []


def _set_history(settings: Settings, name: str, alias: str, history: list[str]) -> None:
    client(settings).set_registered_model_tag(name, HISTORY_TAG_PREFIX + alias, json.dumps(history[-50:]))


def evaluate_gate(
    settings: Settings, name: str, version: str, gate: Gate | None, must_beat: str | None
) -> tuple[bool, str]:
    if gate is None:
        return True, "no gate"
    metrics = version_metrics(settings, name, version)
    if gate.metric not in metrics:
        return False, f"version {version} has no metric {gate.metric!r}"
    value = metrics[gate.metric]
    if not gate.passes(value):
        return False, f"{gate.metric}={value:.4g} fails the gate {gate}"
    reason = f"{gate.metric}={value:.4g} passes the gate {gate}"
    if must_beat and must_beat != version:
        incumbent = version_metrics(settings, name, must_beat).get(gate.metric)
        if incumbent is not None:
            better = value > incumbent if gate.higher_is_better else value < incumbent
            if not better:
                return False, (
                    f"{gate.metric}={value:.4g} does not beat version {must_beat} ({incumbent:.4g})"
                )
            reason += f" and beats version {must_beat} ({incumbent:.4g})"
    return True, reason


def check_signed(settings: Settings, name: str, version: str) -> str | None:
    """The id of the key that signed ``version`` (None for an unsigned version in migration
    mode); raises LoadError when its signature is missing or does not verify."""
    manifest = trust.verify(settings, loader.resolve(settings, ModelRef("version", name, version)))
    return manifest.key_id if manifest else None


class PublishFailed(LoadError):
    """The fallback could not be published; nothing was promoted."""


def _publish_first(settings: Settings, name: str, version: str, publish: bool) -> str | None:
    if not publish:
        return None
    from app.lifecycle.fallback_publisher import FallbackNotConfigured, publish_version
    from app.model_loading.failures import short
    from app.redact import redact

    try:
        return publish_version(settings, name, version).version
    except FallbackNotConfigured:
        raise
    except Exception as exc:  # noqa: BLE001 - reported whole: nothing moved
        reason = str(exc) if isinstance(exc, LoadError) else short(exc)
        raise PublishFailed(
            redact(
                f"publishing version {version} to the blob fallback failed, so nothing was promoted: {reason}"
            )
        ) from None


def promote(
    settings: Settings,
    name: str,
    version: str,
    *,
    alias: str | None = None,
    stage: str | None = None,
    gate: Gate | None = None,
    must_beat_champion: bool = False,
    archive_existing: bool = True,
    publish: bool = True,
) -> Decision:
    """Point ``alias`` (or move ``stage``) to ``version`` if it passes the gate and is signed.

    Order: gate, signature, fallback publish, decision tag, then the alias/stage."""
    ensure_configured(settings)
    if bool(alias) == bool(stage):
        raise ValueError("promote needs either an alias or a stage, not both")
    version = str(version)
    mlflow_client = client(settings)
    mlflow_client.get_model_version(name, version)  # raises if the version does not exist
    previous = alias_holder(settings, name, alias) if alias else None
    ok, reason = evaluate_gate(settings, name, version, gate, previous if must_beat_champion else None)
    signed_by = None
    if ok:
        try:
            signed_by = check_signed(settings, name, version)
        except LoadError as exc:
            ok, reason = False, f"version {version} cannot be served: {exc}"
    decision = Decision(name, version, ok, reason, alias, stage, previous, signed_by=signed_by)
    if ok:
        decision.fallback_version = _publish_first(settings, name, version, publish)
    mlflow_client.set_model_version_tag(
        name,
        version,
        DECISION_TAG,
        json.dumps(
            {
                "promoted": ok,
                "reason": reason,
                "alias": alias,
                "stage": stage,
                "at": datetime.now(UTC).isoformat(),
            }
        ),
    )
    if not ok:
        log.info("version %s of %s not promoted: %s", version, name, reason)
        return decision
    if alias:
        mlflow_client.set_registered_model_alias(name, alias, version)
        history = alias_history(settings, name, alias)
        if not history and previous:
            history = [previous]
        if not history or history[-1] != version:
            history.append(version)
        _set_history(settings, name, alias, history)
    if stage:
        mlflow_client.transition_model_version_stage(
            name, version, stage.capitalize(), archive_existing_versions=archive_existing
        )
    log.info("promoted version %s of %s: %s", version, name, reason)
    return decision


def rollback(settings: Settings, name: str, alias: str = "champion", publish: bool = True) -> Decision:
    """Point ``alias`` back at the version that held it before the current one (signature
    checked and fallback published first, as for a promotion)."""
    ensure_configured(settings)
    current = alias_holder(settings, name, alias)
    history = alias_history(settings, name, alias)
    if current is not None and history and history[-1] != current:
        history.append(current)  # the alias was moved outside this tool
    while history and history[-1] == current:
        history.pop()
    if not history:
        raise NothingToRollBack(f"no earlier holder of alias {alias!r} to roll back to")
    target = history[-1]
    signed_by = check_signed(settings, name, target)
    fallback_version = _publish_first(settings, name, target, publish)
    client(settings).set_registered_model_alias(name, alias, target)
    _set_history(settings, name, alias, history)
    return Decision(
        name,
        target,
        True,
        f"rolled back from version {current}",
        alias,
        previous_version=current,
        fallback_version=fallback_version,
        signed_by=signed_by,
    )
