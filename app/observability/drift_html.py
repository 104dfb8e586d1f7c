"""A self-contained HTML page for a drift report (no scripts, no external assets)."""

from __future__ import annotations

from html import escape

from app.observability.drift import DriftReport, FeatureDrift

_COLORS = {"drift": "#c62828", "moderate": "#ef6c00", "stable": "#2e7d32"}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child{text-align:left}
.status{font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
figure{margin:0}figcaption{font-size:.85rem;margin-bottom:.2rem}
"""


def _bars(feature: FeatureDrift, width: int = 240, height: int = 90) -> str:
    """Baseline (grey) and observed (colored) fractions per baseline bin."""
    bins = max(len(feature.baseline_fractions), len(feature.observed_fractions))
    if not bins:
        return ""
    peak = max([*feature.baseline_fractions, *feature.observed_fractions, 1e-9])
    slot = width / bins
    color = _COLORS.get(feature.status, "#555")
    parts = [
        f'<svg width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(feature.feature)} distribution">'
    ]
    for i in range(bins):
        for offset, values, fill in (
            (0.1, feature.baseline_fractions, "#9e9e9e"),
            (0.5, feature.observed_fractions, color),
        ):
            if i < len(values):
                bar = values[i] / peak * (height - 4)
                parts.append(
                    f'<rect x="{i * slot + offset * slot:.1f}" y="{height - bar:.1f}" '
                    f'width="{slot * 0.4:.1f}" height="{bar:.1f}" fill="{fill}"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def render(report: DriftReport) -> str:
    rows = []
    for f in report.features:
        color = _COLORS.get(f.status, "#555")
        rows.append(
            f"<tr><td>{escape(f.feature)}</td><td>{f.rows}</td><td>{_cell(f.psi)}</td>"
            f"<td>{_cell(f.ks_statistic)}</td><td>{_cell(f.ks_pvalue, 2)}</td>"
            f"<td>{_cell(f.baseline_mean)}</td><td>{_cell(f.observed_mean)}</td>"
            f'<td class="status" style="color:{color}">{escape(f.status)}</td></tr>'
        )
    charts = "".join(
        f"<figure><figcaption>{escape(f.feature)} - PSI {_cell(f.psi)}</figcaption>{_bars(f)}</figure>"
        for f in report.features
    )
    drifted = ", ".join(escape(name) for name in report.drifted) or "none"
    title = f"Drift report: {escape(report.model_name)} v{escape(report.version)}"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>Window {escape(report.start)} - {escape(report.end)}; {report.records} logged "
        f"requests, {report.rows} rows; baseline: training run <code>{escape(report.run_id)}"
        f"</code>.</p><p><strong>Drift in:</strong> {drifted}</p>"
        "<table><tr><th>feature</th><th>rows</th><th>PSI</th><th>KS</th><th>KS p</th>"
        "<th>training mean</th><th>observed mean</th><th>status</th></tr>"
        + "".join(rows)
        + "</table><p>Grey: training data; colored: predictions in the window "
        "(fraction per training quantile bin).</p>"
        f'<div class="charts">{charts}</div></body></html>'
    )
