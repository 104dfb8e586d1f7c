"""/invocations against `mlflow models serve`, over HTTP, on the same registered models.

Every case of `tests.parity.cases` goes to both servers. The test prints the table and fails
when MLflow answers 2xx and we do not, when both answer 2xx with different predictions, or
when we answer 5xx. Where MLflow itself fails with a 5xx we must answer 4xx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from tests.parity.cases import Case, mixed_cases, numeric_cases, numeric_server_error_cases

# Where we refuse on purpose what MLflow scores, and why.
DELIBERATE = {
    "csv repeated header name": "security review F3: pandas renames repeated CSV header "
    "names in quadratic time, so repeated names are refused",
}
TOLERANCE = 1e-9


@dataclass
class Outcome:
    status: int
    body: bytes
    error_code: str | None

    @classmethod
    def of(cls, response: httpx.Response) -> Outcome:
        code = None
        if response.status_code != 200:
            try:
                code = json.loads(response.content).get("error_code")
            except (ValueError, AttributeError):
                code = "(text)"
        return cls(response.status_code, response.content, code)

    def predictions(self) -> Any:
        document = json.loads(self.body)  # MLflow writes NaN/Infinity; json reads them
        return document["predictions"] if isinstance(document, dict) else document


def _send(client: httpx.Client, url: str, case: Case) -> Outcome:
    headers = {"content-type": case.content_type} if case.content_type is not None else {}
    try:
        return Outcome.of(client.post(url + "/invocations", content=case.body, headers=headers))
    except httpx.TransportError as exc:  # the server dropped the connection: a server error
        return Outcome(599, type(exc).__name__.encode(), "(connection dropped)")


def _same_predictions(mlflow: Outcome, ours: Outcome) -> bool:
    expected, actual = mlflow.predictions(), ours.predictions()
    try:
        left = np.asarray(expected, dtype=float)
        right = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        return bool(expected == actual)
    return left.shape == right.shape and bool(
        np.allclose(left, right, rtol=TOLERANCE, atol=0, equal_nan=True)
    )


def _verdict(case: Case, mlflow: Outcome, ours: Outcome) -> str:
    if ours.status >= 500:
        return "FAIL: we answered 5xx"
    if mlflow.status == 200 and ours.status != 200:
        return (
            f"deliberate ({DELIBERATE[case.name]})"
            if case.name in DELIBERATE
            else "FAIL: MLflow scored it, we did not"
        )
    if mlflow.status == 200 and not _same_predictions(mlflow, ours):
        return "FAIL: predictions differ"
    if mlflow.status >= 500:
        return "better (MLflow 5xx)"
    return (
        "same"
        if (mlflow.status == ours.status and mlflow.error_code == ours.error_code)
        else "both refuse"
        if mlflow.status >= 400 and ours.status >= 400
        else "differs"
    )


def _run(servers: dict[str, str], model: str, cases: list[Case]) -> list[tuple[str, ...]]:
    rows = []
    with httpx.Client(timeout=120) as client:
        for case in cases:
            mlflow, ours = _send(client, servers["mlflow"], case), _send(client, servers["ours"], case)
            rows.append(
                (
                    model,
                    case.name[:60],
                    str(mlflow.status),
                    str(mlflow.error_code or ""),
                    str(ours.status),
                    str(ours.error_code or ""),
                    _verdict(case, mlflow, ours),
                )
            )
    return rows


def _print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("model", "case", "mlflow", "mlflow code", "ours", "our code", "verdict")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    counts: dict[str, int] = {}
    for row in rows:
        key = row[-1].split(" (")[0].split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    print(f"{len(rows)} requests: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


def test_invocations_answers_like_mlflow_models_serve(
    numeric_servers: dict[str, str], mixed_servers: dict[str, str]
) -> None:
    rows = _run(numeric_servers, "numeric", numeric_cases() + numeric_server_error_cases()) + _run(
        mixed_servers, "mixed", mixed_cases()
    )
    _print_table(rows)
    failures = [row for row in rows if row[-1].startswith("FAIL")]
    assert len(rows) >= 150
    assert not failures, "\n".join(" | ".join(row) for row in failures)
    # The cases MLflow answers with 5xx (or a dropped connection) are answered here.
    server_errors = {c.name for c in numeric_server_error_cases()}
    assert {row[1] for row in rows if row[-1].startswith("better")} == server_errors
