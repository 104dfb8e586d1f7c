"""`python -m benchmarks [--quick|--tiny] [--flavor sklearn|xgboost|lightgbm|onnx] [--out FILE]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from benchmarks import flavors, runner, stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="short run (under 3 minutes)")
    group.add_argument(
        "--tiny", action="store_true", help="harness smoke run: project_shim + raw_predict only"
    )
    parser.add_argument(
        "--flavor",
        choices=flavors.FLAVORS,
        default="sklearn",
        help="the sample model's flavor: the scikit-learn pipeline (default), "
        "XGBoost or LightGBM trees (train --model-type), or the pipeline "
        "exported to ONNX (examples/onnx_model.py)",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--workdir", type=Path, help="keep services, model and logs here")
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = runner.run(mode, args.workdir, log, args.flavor)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(stats.render_table(results))
    meta = results["meta"]
    print(
        f"\n{meta['date']} | {meta['machine']['cpus']} CPUs, {meta['machine']['memory_gib']} GiB"
        f" | load avg {meta['load_average_start'][0]} | mode {meta['mode']} | flavor {meta['flavor']}"
        f" | {meta['wall_seconds']} s"
        f" | predictions match raw_predict: {results['all_predictions_match']}"
    )
    return 0 if results["all_predictions_match"] else 1
