"""Summary statistics, the targets, and the printed table. Pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (pos - low))


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50": round(percentile(ms, 50), 4),
        "p99": round(percentile(ms, 99), 4),
        "mean": round(sum(ms) / len(ms), 4),
        "n": len(ms),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 3)


@dataclass(frozen=True)
class Target:
    name: str
    metric: str  # top-level key of the results
    numerator: str
    denominator: str
    op: str  # "<=" or ">="
    bound: float
    zero_errors: bool = False

    def value(self, results: Mapping[str, Any]) -> float | None:
        block = results.get(self.metric) or {}
        num, den = block.get(self.numerator), block.get(self.denominator)
        if isinstance(num, dict):
            num, den = num.get("rps"), (den or {}).get("rps")
        return ratio(num, den)

    def holds(self, results: Mapping[str, Any]) -> bool | None:
        value = self.value(results)
        if value is None:
            return None
        ok = value <= self.bound if self.op == "<=" else value >= self.bound
        if ok and self.zero_errors:
            block = results.get(self.metric) or {}
            ok = all((block.get(k) or {}).get("errors", 1) == 0 for k in (self.numerator, self.denominator))
        return ok


TARGETS = (
    Target("cold start project / mlflow_serve", "cold_start_s", "project", "mlflow_serve", "<=", 0.5),
    Target("cold start project / floor", "cold_start_s", "project", "floor", "<=", 1.6),
    Target(
        "1-row p50 project_http / mlflow_serve",
        "latency_1row_p50_ms",
        "project_http",
        "mlflow_serve",
        "<=",
        0.5,
    ),
    Target(
        "10k batch rows/s project_http / mlflow_serve",
        "batch_10k_rows_per_s",
        "project_http",
        "mlflow_serve",
        ">=",
        4.0,
    ),
    Target(
        "32 clients rps project_http / mlflow_serve (0 errors)",
        "concurrent_32",
        "project_http",
        "mlflow_serve",
        ">=",
        2.0,
        zero_errors=True,
    ),
    Target("RSS project / mlflow_serve", "rss_mb", "project", "mlflow_serve", "<=", 1.0),
)


def evaluate_targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "target": t.name,
            "ratio": t.value(results),
            "bound": f"{t.op} {t.bound:g}",
            "holds": t.holds(results),
        }
        for t in TARGETS
    ]


_ROWS = (
    ("cold start (s)", "cold_start_s", ("project", "mlflow_serve", "floor"), "{:.2f}"),
    (
        "1-row p50 (ms)",
        "latency_1row_p50_ms",
        ("project_shim", "project_http", "mlflow_serve", "raw_predict"),
        "{:.2f}",
    ),
    (
        "1-row p99 (ms)",
        "latency_1row_p99_ms",
        ("project_shim", "project_http", "mlflow_serve", "raw_predict"),
        "{:.2f}",
    ),
    (
        "10k-row batch (rows/s)",
        "batch_10k_rows_per_s",
        ("project_http", "mlflow_serve", "raw_predict"),
        "{:,.0f}",
    ),
    ("32 clients (req/s)", "concurrent_32", ("project_http", "mlflow_serve"), "{:,.0f}"),
    ("RSS after warm-up (MB)", "rss_mb", ("project", "mlflow_serve"), "{:.0f}"),
)


def _cell(value: Any, fmt: str) -> str:
    if isinstance(value, dict):
        if value.get("rps") is None:
            return "-"
        return fmt.format(value["rps"]) + f" ({value.get('errors', 0)} err)"
    return "-" if value is None else fmt.format(value)


def render_table(results: Mapping[str, Any]) -> str:
    """A Markdown table of every measurement, then the target ratios."""
    columns = ("project_shim", "project", "project_http", "mlflow_serve", "raw_predict", "floor")
    used = [c for c in columns if any(c in (results.get(key) or {}) for _, key, _, _ in _ROWS)]
    lines = ["| metric | " + " | ".join(used) + " |", "|---" * (len(used) + 1) + "|"]
    for label, key, _, fmt in _ROWS:
        block = results.get(key) or {}
        lines.append(f"| {label} | " + " | ".join(_cell(block.get(c), fmt) for c in used) + " |")
    logging = results.get("prediction_logging") or {}
    if logging.get("ratio") is not None:
        lines += [
            "",
            f"Prediction logging on/off, 1-row p50 through the shim: "
            f"{logging['p50_on_ms']:.3f} / {logging['p50_off_ms']:.3f} ms = "
            f"{logging['ratio']:.3f}",
        ]
    lines += ["", "| target | ratio | bound | holds |", "|---|---|---|---|"]
    for row in evaluate_targets(results):
        ratio_text = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
        holds = {True: "yes", False: "NO", None: "n/a"}[row["holds"]]
        lines.append(f"| {row['target']} | {ratio_text} | {row['bound']} | {holds} |")
    return "\n".join(lines)
