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
        settings,
        args.model_name or settings.model_name,
        args.version,
        alias=None if args.stage else args.alias,
        stage=args.stage,
        gate=promotion.Gate.parse(args.min_metric) if args.min_metric else None,
        must_beat_champion=args.beat_champion,
        archive_existing=not args.keep_existing,
        publish=not args.no_fallback,
    )
    _print(decision.as_dict())
    return 0 if decision.promoted else 3


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import promotion

    decision = promotion.rollback(
        settings, args.model_name or settings.model_name, args.alias, publish=not args.no_fallback
    )
    _print(decision.as_dict())
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import operations

    rows = operations.compare(settings, args.model_name or settings.model_name)
    if args.json:
        _print(rows)
        return 0
    print(format_table(rows))
    return 0


def format_table(rows: list[dict[str, Any]]) -> str:
    """Versions as a fixed-width table: quality metrics present in any row, then created/run."""
    from app.lifecycle.training import QUALITY_METRICS

    known = [key for keys in QUALITY_METRICS.values() for key in keys]
    metrics = [k for k in known if any(k in row["metrics"] for row in rows)]
    header = ["version", "aliases", "stage", *metrics, "created", "run_id"]
    table = [header]
    for row in rows:
        m = row["metrics"]
        table.append(
            [
                row["version"],
                ",".join(row["aliases"]) or "-",
                row["stage"] or "-",
                *[f"{m[k]:.4g}" if k in m else "-" for k in metrics],
                (row["created"] or "-")[:19],
                row["run_id"] or "-",
            ]
        )
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)) for line in table
    )


def cmd_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import operations

    _print(operations.cleanup(settings, args.model_name or settings.model_name, args.keep, apply=args.apply))
    return 0


def cmd_register(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import operations

    _print(
        operations.register(
            settings,
            args.run_id,
            args.model_name or settings.model_name,
            trust_types=args.trust,
            allow_pickle_format=args.pickle,
        )
    )
    return 0


def cmd_sign(args: argparse.Namespace, settings: Settings) -> int:
    from app.lifecycle import signing

    if args.run_id:
        result = signing.sign_run(
            settings, args.run_id, args.artifact_path, trust_types=args.trust, allow_pickle_format=args.pickle
        )
    elif args.version:
        result = signing.sign_version(
            settings,
            args.model_name or settings.model_name,
            args.version,
            trust_types=args.trust,
            allow_pickle_format=args.pickle,
        )
    else:
        raise ValueError("sign needs --version N (a registry version) or --run-id ID")
    _print(result.as_dict())
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app.lifecycle import signing

    _print(
        signing.verify_version(
            settings,
            args.model_name or settings.model_name,
            args.version,
            Path(args.export) if args.export else None,
        )
    )
    return 0


def cmd_keygen(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app.signing.keys import generate

    private, public = generate(Path(args.out))
    _print(
        {
            "private_key": str(private),
            "public_key": str(public),
            "next": f"MODEL_SIGNING_KEY={private} MODEL_SIGNING_PUBLIC_KEYS={public}",
        }
    )
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
    promote.add_argument(
        "--stage",
        choices=["Staging", "Production", "Archived"],
        help="move a stage instead of an alias (deprecated in MLflow 3)",
    )
    promote.add_argument("--min-metric", help="gate, e.g. 'r2>=0.4' or 'rmse<=60'")
    promote.add_argument("--beat-champion", action="store_true")
    promote.add_argument(
        "--keep-existing",
        action="store_true",
        help="with --stage, do not archive versions already in that stage",
    )
    promote.add_argument(
        "--no-fallback",
        "--no-publish",
        dest="no_fallback",
        action="store_true",
        help="do not publish the blob fallback (otherwise a publish failure, "
        "or no storage configured, stops the promotion)",
    )
    promote.set_defaults(handler=cmd_promote)

    rollback = sub.add_parser("rollback", help="give the alias back to its previous holder")
    rollback.add_argument("--model-name")
    rollback.add_argument("--alias", default="champion")
    rollback.add_argument(
        "--no-fallback",
        "--no-publish",
        dest="no_fallback",
        action="store_true",
        help="do not publish the blob fallback for the restored version",
    )
    rollback.set_defaults(handler=cmd_rollback)

    compare = sub.add_parser("compare", help="versions side by side with aliases and metrics")
    compare.add_argument("--model-name")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=cmd_compare)

    webhook = sub.add_parser(
        "register-webhook", help="make the registry call POST /hooks/mlflow on alias changes"
    )
    webhook.add_argument("--url", required=True, help="https://<host>/hooks/mlflow?code=<function key>")
    webhook.add_argument("--name", default="model-serving")
    webhook.set_defaults(handler=cmd_register_webhook)

    cleanup = sub.add_parser("cleanup", help="delete old versions (dry-run unless --apply)")
    cleanup.add_argument("--model-name")
    cleanup.add_argument("--keep", type=int, required=True)
    cleanup.add_argument("--apply", action="store_true")
    cleanup.set_defaults(handler=cmd_cleanup)

    reg = sub.add_parser("register", help="register runs:/<run-id>/model as a new version and sign it")
    reg.add_argument("--model-name")
    reg.add_argument("--run-id", required=True)
    _trust_arguments(reg)
    reg.set_defaults(handler=cmd_register)

    sign = sub.add_parser(
        "sign",
        help="sign a registry version (or a run artifact) with MODEL_SIGNING_KEY; prints the files it signs",
    )
    sign.add_argument("--model-name")
    sign.add_argument("--version", help="the registry version to sign")
    sign.add_argument("--run-id", help="sign runs:/<run-id>/<artifact-path> instead")
    sign.add_argument("--artifact-path", default="model")
    _trust_arguments(sign)
    sign.set_defaults(handler=cmd_sign)

    verify = sub.add_parser(
        "verify",
        help="check a version's signature and files; --export leaves them for `model_signing verify`",
    )
    verify.add_argument("--model-name")
    verify.add_argument("--version", required=True)
    verify.add_argument("--export", metavar="DIR", help="an empty directory to download into")
    verify.set_defaults(handler=cmd_verify)

    keygen = sub.add_parser("keygen", help="make a local EC P-256 signing key pair")
    keygen.add_argument("--out", required=True, metavar="DIR")
    keygen.set_defaults(handler=cmd_keygen)


def _trust_arguments(parser: Any) -> None:
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="TYPE",
        help="a type skops does not trust by default that you trust (repeatable)",
    )
    parser.add_argument(
        "--pickle",
        action="store_true",
        help="confirm signing a pickle-based model (it loads only with ALLOW_PICKLE=true)",
    )
