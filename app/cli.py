"""`python -m app <command>`: the project's command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from app.redact import redact
from app.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
#: Commands that work without the registry (serve falls back to the blob copy).
REGISTRY_FREE = frozenset({"serve"})


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle.training import train

    result = train(
        settings, alpha=args.alpha, model_type=args.model_type, model_name=args.model_name, task=args.task
    )
    output: dict[str, Any] = {
        "run_id": result.run_id,
        "model_name": result.model_name,
        "version": result.version,
        "metrics": result.metrics,
        "signed_by": result.signed_by,
    }
    if result.signed_by is None:
        print(
            f"warning: version {result.version} is unsigned (no MODEL_SIGNING_KEY); servers "
            f"refuse it until `python -m app sign --version {result.version}`",
            file=sys.stderr,
        )
    if args.alias:
        from app.lifecycle import promotion

        decision = promotion.promote(
            settings,
            result.model_name,
            result.version,
            alias=args.alias,
            gate=promotion.Gate.parse(args.min_metric) if args.min_metric else None,
            must_beat_champion=args.beat_champion,
            publish=not args.no_fallback,
        )
        output["promotion"] = decision.as_dict()
    _print(output)
    return 0


def cmd_publish_fallback(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle.fallback_publisher import publish_version

    pointer = publish_version(settings, args.model_name or settings.model_name, args.version)
    _print(pointer.model_dump())
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from app.logging_setup import configure_logging
    from app.model_manager import ModelManager

    configure_logging(settings.log_level)  # before the preload, so the first load is logged
    manager = ModelManager(settings)
    manager.preload()  # the load overlaps the imports of the app and of uvicorn
    from app.main import create_app

    app = create_app(settings, manager)
    import uvicorn

    # log_config=None: uvicorn's own records go through the app's JSON handler, not its text one.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=args.access_log,
    )
    return 0


def cmd_drift_report(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app.observability import drift, drift_html

    start, end = drift.parse_window(args.since, args.start, args.end)
    report = drift.build_report(
        settings, start=start, end=end, model_name=args.model_name, version=args.version
    )
    if args.json:
        _print(report.as_dict())
    else:
        print(drift.format_table(report))
    if args.out:
        Path(args.out).write_text(drift_html.render(report), encoding="utf-8")
        print(f"report written to {args.out}", file=sys.stderr)
    return 4 if args.fail_on_drift and report.drifted else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    train = sub.add_parser("train", help="train the sample model, log and register it")
    train.add_argument(
        "--task",
        choices=["regression", "classification"],
        default="regression",
        help="regression: diabetes data; classification: breast-cancer data",
    )
    train.add_argument(
        "--alpha",
        type=float,
        default=1.0,
        help="regularisation strength (Ridge alpha; C=1/alpha for logistic; "
        "the L2 penalty reg_lambda for xgboost and lightgbm)",
    )
    train.add_argument(
        "--model-type",
        choices=["ridge", "logistic", "random_forest", "xgboost", "lightgbm"],
        default=None,
        help="default: ridge (regression), logistic (classification); "
        "xgboost and lightgbm are logged in their native formats",
    )
    train.add_argument("--model-name", help="registered model name (default MODEL_NAME)")
    train.add_argument(
        "--alias",
        default=None,
        help="promote the new version to this alias (e.g. champion) if it passes the gate",
    )
    train.add_argument("--min-metric", default=None, help="quality gate, e.g. 'r2>=0.4' or 'rmse<=60'")
    train.add_argument(
        "--beat-champion",
        action="store_true",
        help="also require beating the current alias holder on the gate metric",
    )
    train.add_argument(
        "--no-fallback",
        "--no-publish",
        dest="no_fallback",
        action="store_true",
        help="promote without publishing the blob fallback",
    )
    train.set_defaults(handler=cmd_train)

    publish = sub.add_parser("publish-fallback", help="copy a registry version to the blob fallback")
    publish.add_argument("--model-name", help="registered model name (default MODEL_NAME)")
    publish.add_argument(
        "--version", required=True, help="model version to publish (its signature must verify)"
    )
    publish.set_defaults(handler=cmd_publish_fallback)

    serve = sub.add_parser("serve", help="serve the API with uvicorn (1 worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(handler=cmd_serve)

    drift = sub.add_parser("drift-report", help="compare logged prediction inputs with the training data")
    drift.add_argument("--since", default=None, help="window ending now: e.g. 90m, 24h, 7d")
    drift.add_argument("--start", help="window start, ISO 8601 (UTC if no offset)")
    drift.add_argument("--end", help="window end, ISO 8601 (default: now)")
    drift.add_argument("--model-name", help="registered model name (default MODEL_NAME)")
    drift.add_argument("--version", help="model version (default: the most logged one)")
    drift.add_argument("--out", default="drift-report.html", help="HTML report path ('' for none)")
    drift.add_argument("--json", action="store_true", help="print JSON instead of a table")
    drift.add_argument("--fail-on-drift", action="store_true", help="exit 4 when a feature drifted")
    drift.set_defaults(handler=cmd_drift_report)

    from app.lifecycle import cli as lifecycle_cli

    lifecycle_cli.register(sub)
    return parser


def _failure(exc: Exception, settings: Settings) -> str:
    """One line for the operator: what failed and where, credentials redacted."""
    from app.model_loading.failures import as_load_error, is_unreachable
    from app.model_loading.types import LoadError

    if is_unreachable(exc) and not isinstance(exc, LoadError):
        return (
            f"the MLflow tracking server at {redact(settings.mlflow_tracking_uri)} did not "
            f"answer (MLFLOW_TRACKING_URI): {as_load_error(exc)}"
        )
    return str(as_load_error(exc))


def main(argv: Sequence[str] | None = None, *, stack_settings: bool = False) -> int:
    """Run a command; ``stack_settings``: read the local stack's local.settings.json first."""
    args = build_parser().parse_args(argv)
    try:
        if stack_settings:
            from app import local_settings

            local_settings.apply()
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        print(f"error: invalid settings: {problems}", file=sys.stderr)  # names, never values
        return 2
    except ValueError as exc:  # an unreadable local.settings.json
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # MLflow's own defaults (7 retries, backoff capped at 120 s, 120 s timeout) kept a command
    # waiting ~250 s for a server that refuses connections: here 2 retries, bounded timeouts.
    from app.model_loading import fetch_mlflow

    fetch_mlflow.configure(settings, retries=2)
    if args.command not in REGISTRY_FREE:
        from app.reachability import unreachable_reason

        reason = unreachable_reason(settings.mlflow_tracking_uri, settings.registry_timeout_seconds)
        if reason is not None:
            print(
                f"error: the MLflow tracking server at {redact(settings.mlflow_tracking_uri)} "
                f"did not answer (MLFLOW_TRACKING_URI): {reason}",
                file=sys.stderr,
            )
            return 1
    try:
        return int(args.handler(args, settings))
    except (ValueError, LookupError) as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line for the operator, not a traceback
        print(f"error: {_failure(exc, settings)}", file=sys.stderr)
        return 1
