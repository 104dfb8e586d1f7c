"""``python -m deploy build-zip [--out dist/function-app.zip] [--requirements FILE]
[--flavors sklearn,xgboost,lightgbm,onnx] [--no-deps] [--no-bytecode]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from deploy import flavors
from deploy.build_zip import ROOT, build_zip, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build-zip", help="build the no-remote-build deployment zip")
    build.add_argument("--out", type=Path, default=ROOT / "dist" / "function-app.zip")
    build.add_argument(
        "--requirements",
        type=Path,
        default=ROOT / "requirements.lock",
        help="hash-locked requirements to install and ship (default: %(default)s)",
    )
    build.add_argument(
        "--no-deps",
        action="store_true",
        help="code only, no .python_packages (fast; not deployable without remote build)",
    )
    build.add_argument(
        "--no-bytecode",
        action="store_true",
        help="leave out the precompiled .pyc files (smaller zip, slower cold starts)",
    )
    build.add_argument(
        "--flavors",
        default="all",
        help="comma-separated model flavors whose libraries ship, from "
        f"{','.join(flavors.FLAVORS)} (default: all; sklearn always ships)",
    )
    build.add_argument("--top", type=int, default=10, help="list the N largest installed packages")
    args = parser.parse_args(argv)
    try:
        shipped = flavors.parse(args.flavors)
    except ValueError as exc:
        parser.error(str(exc))

    started = time.monotonic()
    result = build_zip(
        args.out,
        requirements=args.requirements,
        with_deps=not args.no_deps,
        bytecode=not args.no_bytecode,
        flavors=shipped,
    )
    print(summary(result, args.top))
    print(f"built in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
