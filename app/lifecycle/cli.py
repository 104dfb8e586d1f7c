"""Lifecycle commands of `python -m app`: promote, rollback (more are added here)."""

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
