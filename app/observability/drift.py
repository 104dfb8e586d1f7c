"""Drift report: logged prediction inputs against the training statistics of the model version.

Baseline: ``training_stats.json``, logged with every training run (per-feature quantile
bin edges and fractions, plus a fixed sample). Observed: the prediction log records of a
time window (`app.observability.prediction_log`). Per numeric feature:

- PSI over the baseline's quantile bins (outer bins open-ended): < 0.1 stable,
  0.1-0.25 moderate, ≥ 0.25 a shift;
- a two-sample Kolmogorov-Smirnov test against the baseline sample.

A feature is flagged ``drift`` when PSI ≥ 0.25, or when PSI ≥ 0.1 and the KS p-value is
below 0.01, so neither a tiny PSI wobble nor a KS test on huge samples flags alone.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from app.settings import Settings

PSI_MODERATE = 0.1
PSI_SHIFT = 0.25
KS_ALPHA = 0.01
MIN_ROWS = 50
_EPS = 1e-4


@dataclass
class FeatureDrift:
    feature: str
    rows: int
    psi: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    baseline_mean: float
    observed_mean: float | None
    status: str  # stable | moderate | drift | insufficient data | missing
    observed_fractions: list[float] = field(default_factory=list)
    baseline_fractions: list[float] = field(default_factory=list)


@dataclass
class DriftReport:
    model_name: str
    version: str
    run_id: str
    start: str
    end: str
    records: int
    rows: int
    features: list[FeatureDrift]

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.status == "drift"]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted": self.drifted}


# --- statistics -----------------------------------------------------------------------------
def psi(baseline_fractions: np.ndarray, observed_fractions: np.ndarray) -> float:
    expected = np.clip(baseline_fractions, _EPS, None)
    actual = np.clip(observed_fractions, _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def bin_fractions(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Fractions of ``values`` in the baseline bins, the outer bins open-ended."""
    inner = np.asarray(edges[1:-1], dtype=float)
    counts = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1)
    return counts / max(len(values), 1)


def compare_feature(name: str, stats: dict[str, Any], values: np.ndarray) -> FeatureDrift:
    from scipy.stats import ks_2samp

    baseline = np.asarray(stats["bin_fractions"], dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < MIN_ROWS:
        return FeatureDrift(
            name,
            len(values),
            None,
            None,
            None,
            stats["mean"],
            float(values.mean()) if len(values) else None,
            "insufficient data",
            [],
            baseline.tolist(),
        )
    observed = bin_fractions(values, stats["bin_edges"])
    score = psi(baseline, observed)
    ks = ks_2samp(values, np.asarray(stats["sample"], dtype=float))
    pvalue = float(ks.pvalue)
    if score >= PSI_SHIFT or (score >= PSI_MODERATE and pvalue < KS_ALPHA):
        status = "drift"
    elif score >= PSI_MODERATE:
        status = "moderate"
    else:
        status = "stable"
    return FeatureDrift(
        name,
        len(values),
        round(score, 6),
        round(float(ks.statistic), 6),
        pvalue,
        stats["mean"],
        float(values.mean()),
        status,
        observed.round(6).tolist(),
        baseline.round(6).tolist(),
    )


# --- reading the logs -----------------------------------------------------------------------
def hour_prefixes(start: datetime, end: datetime) -> list[str]:
    moment = start.replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while moment <= end:
        prefixes.append(moment.strftime("%Y/%m/%d/%H/"))
        moment += timedelta(hours=1)
    return prefixes


def read_records(settings: Settings, start: datetime, end: datetime, model_name: str) -> list[dict[str, Any]]:
    """Prediction log records of ``model_name`` with ``start <= time < end``."""
    from app.storage import container

    client = container(settings, settings.prediction_log_container, timeout=30)
    records: list[dict[str, Any]] = []
    for prefix in hour_prefixes(start, end):
        for blob in client.list_blobs(name_starts_with=prefix):
            for line in client.download_blob(blob.name).readall().splitlines():
                try:
                    record = json.loads(line)
                    moment = datetime.fromisoformat(record["time"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn or foreign line is skipped, not fatal
                if start <= moment < end and record.get("model", {}).get("name") == model_name:
                    records.append(record)
    return records


def observed_columns(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    columns: dict[str, list[float]] = {}
    for record in records:
        inputs = record.get("inputs") or {}
        names = inputs.get("columns") or []
        for row in inputs.get("data") or []:
            for name, value in zip(names, row, strict=False):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    columns.setdefault(name, []).append(float(value))
    return {name: np.asarray(values, dtype=float) for name, values in columns.items()}


def training_stats(settings: Settings, model_name: str, version: str) -> tuple[str, dict[str, Any]]:
    from app.model_loading.fetch_mlflow import client

    mlflow_client = client(settings)
    run_id = mlflow_client.get_model_version(model_name, version).run_id
    if not run_id:
        raise LookupError(f"version {version} of {model_name} has no training run")
    path = mlflow_client.download_artifacts(run_id, "training_stats.json")
    return run_id, json.loads(Path(path).read_text())


def build_report(
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    model_name: str | None = None,
    version: str | None = None,
) -> DriftReport:
    name = model_name or settings.model_name
    records = read_records(settings, start, end, name)
    if version is None:
        versions = Counter(str(r["model"].get("version")) for r in records)
        if not versions:
            raise LookupError(
                f"no prediction log records for {name} between "
                f"{start.isoformat()} and {end.isoformat()}; pass --version"
            )
        version = versions.most_common(1)[0][0]
    records = [r for r in records if str(r["model"].get("version")) == version]
    run_id, stats = training_stats(settings, name, version)
    observed = observed_columns(records)
    features = []
    for feature, feature_stats in stats.items():
        if feature in observed:
            features.append(compare_feature(feature, feature_stats, observed[feature]))
        else:
            features.append(
                FeatureDrift(
                    feature,
                    0,
                    None,
                    None,
                    None,
                    feature_stats["mean"],
                    None,
                    "missing",
                    [],
                    feature_stats["bin_fractions"],
                )
            )
    rows = sum(int(r["rows"] if r.get("part") is None else len(r.get("outputs", []))) for r in records)
    return DriftReport(
        name, version, run_id, start.isoformat(), end.isoformat(), len(records), rows, features
    )


def parse_window(since: str | None, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """``--since 24h`` (or 90m, 7d), or explicit ISO ``--start``/``--end`` (UTC if naive)."""

    def iso(text: str) -> datetime:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    stop = iso(end) if end else datetime.now(UTC)
    if start:
        return iso(start), stop
    text = (since or "24h").strip().lower()
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"--since {since!r}: use a number with m, h or d, e.g. 24h")
    return stop - timedelta(**{units[text[-1]]: float(text[:-1])}), stop


def format_table(report: DriftReport) -> str:
    def num(value: float | None, digits: int = 3) -> str:
        return "-" if value is None or math.isnan(value) else f"{value:.{digits}g}"

    lines = [
        f"model {report.model_name} v{report.version}  {report.start} .. {report.end}  "
        f"records={report.records} rows={report.rows}",
        f"{'feature':<16}{'rows':>8}{'psi':>9}{'ks':>8}{'ks p':>10}{'train mean':>12}"
        f"{'obs mean':>12}  status",
    ]
    for f in report.features:
        lines.append(
            f"{f.feature:<16}{f.rows:>8}{num(f.psi):>9}{num(f.ks_statistic):>8}"
            f"{num(f.ks_pvalue, 2):>10}{num(f.baseline_mean):>12}"
            f"{num(f.observed_mean):>12}  {f.status}"
        )
    lines.append("drift in: " + (", ".join(report.drifted) or "none"))
    return "\n".join(lines)
