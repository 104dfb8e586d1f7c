"""Lifecycle commands of `python -m app`: promote, rollback, compare, cleanup, register."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.settings import Settings


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import promotion

    decision = promotion.promote(
        settings, args.model_name or settings.model_name, args.version,
        alias=None if args.stage else args.alias, stage=args.stage,
        gate=promotion.Gate.parse(args.min_metric) if args.min_metric else None,
        must_beat_champion=args.beat_champion, archive_existing=not args.keep_existing,
        publish=not args.no_publish)
    _print(decision.as_dict())
    return 0 if decision.promoted else 3


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import promotion

    decision = promotion.rollback(settings, args.model_name or settings.model_name, args.alias,
                                  publish=not args.no_publish)
    _print(decision.as_dict())
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import operations

    rows = [{**row, "stage": _stage(row["stage"])}
            for row in operations.compare(settings, args.model_name or settings.model_name)]
    if args.json:
        _print(rows)
        return 0
    print(format_table(rows))
    return 0


def _stage(stage: str | None) -> str | None:
    """MLflow reports "no stage" as the string "None"."""
    return None if stage in (None, "", "None") else stage


def format_table(rows: list[dict[str, Any]]) -> str:
    """Versions as a fixed-width table: quality metrics present in any row, then created/run."""
    from app.lifecycle.training import QUALITY_METRICS

    known = [key for keys in QUALITY_METRICS.values() for key in keys]
    metrics = [k for k in known if any(k in row["metrics"] for row in rows)]
    header = ["version", "aliases", "stage", *metrics, "created", "run_id"]
    table = [header]
    for row in rows:
        m = row["metrics"]
        table.append([row["version"], ",".join(row["aliases"]) or "-", _stage(row["stage"]) or "-",
                      *[f"{m[k]:.4g}" if k in m else "-" for k in metrics],
                      (row["created"] or "-")[:19], row["run_id"] or "-"])
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True))
                     for line in table)


def cmd_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import operations

    _print(operations.cleanup(settings, args.model_name or settings.model_name, args.keep,
                              apply=args.apply))
    return 0


def cmd_register(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import operations

    _print(operations.register(settings, args.run_id, args.model_name or settings.model_name))
    return 0


def cmd_register_webhook(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import operations

    _print(operations.register_webhook(settings, args.url, args.name))
    return 0


def register(sub: Any) -> None:
    promote = sub.add_parser("promote", help="point an alias (or stage) at a version, behind a gate")
    promote.add_argument("--model-name")
    promote.add_argument("--version", required=True)
    promote.add_argument("--alias", default="champion")
    promote.add_argument("--stage", choices=["Staging", "Production", "Archived"],
                         help="move a stage instead of an alias (deprecated in MLflow 3)")
    promote.add_argument("--min-metric", help="gate, e.g. 'r2>=0.4' or 'rmse<=60'")
    promote.add_argument("--beat-champion", action="store_true")
    promote.add_argument("--keep-existing", action="store_true",
                         help="with --stage, do not archive versions already in that stage")
    promote.add_argument("--no-publish", action="store_true")
    promote.set_defaults(handler=cmd_promote)

    rollback = sub.add_parser("rollback", help="give the alias back to its previous holder")
    rollback.add_argument("--model-name")
    rollback.add_argument("--alias", default="champion")
    rollback.add_argument("--no-publish", action="store_true")
    rollback.set_defaults(handler=cmd_rollback)

    compare = sub.add_parser("compare", help="versions side by side with aliases and metrics")
    compare.add_argument("--model-name")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=cmd_compare)

    webhook = sub.add_parser("register-webhook",
                             help="make the registry call POST /hooks/mlflow on alias changes")
    webhook.add_argument("--url", required=True,
                         help="https://<host>/hooks/mlflow?code=<function key>")
    webhook.add_argument("--name", default="model-serving")
    webhook.set_defaults(handler=cmd_register_webhook)

    cleanup = sub.add_parser("cleanup", help="delete old versions (dry-run unless --apply)")
    cleanup.add_argument("--model-name")
    cleanup.add_argument("--keep", type=int, required=True)
    cleanup.add_argument("--apply", action="store_true")
    cleanup.set_defaults(handler=cmd_cleanup)

    reg = sub.add_parser("register", help="register runs:/<run-id>/model as a new version")
    reg.add_argument("--model-name")
    reg.add_argument("--run-id", required=True)
    reg.set_defaults(handler=cmd_register)
