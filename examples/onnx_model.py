"""Export the scikit-learn sample pipeline to ONNX, log it with MLflow's onnx flavor, sign
and register it: a model the service runs with onnxruntime, no pickle anywhere.

    .venv/bin/python -m examples.onnx_model [--task regression|classification]
        [--model-name diabetes-onnx] [--alias champion]

Uses the same settings as the app (MLFLOW_TRACKING_URI, MODEL_SIGNING_KEY, ...). The same
route works for any model an ONNX exporter handles (``torch.onnx.export``, ``tf2onnx``,
``onnxmltools`` for XGBoost/LightGBM): log the graph with ``mlflow.onnx.log_model``, then
``python -m app sign --version N``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from app.settings import Settings


def to_onnx(pipeline: Any, features: Any) -> Any:
    """The fitted pipeline as an ONNX graph with one float tensor input, ``input``, of
    shape [rows, columns] (the service feeds the signature's columns in order)."""
    from skl2onnx import to_onnx as convert
    from skl2onnx.common.data_types import FloatTensorType

    return convert(
        pipeline,
        initial_types=[("input", FloatTensorType([None, features.shape[1]]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )


def register(
    settings: Settings, *, task: str = "regression", model_name: str | None = None, alias: str | None = None
) -> dict[str, Any]:
    """Fit the sample pipeline, export, log (signature + input example), register and sign."""
    import mlflow
    import mlflow.onnx
    from mlflow.models import infer_signature

    from app.lifecycle.training import MODEL_TYPES, build_pipeline, evaluate, load_data

    name = model_name or f"{settings.model_name}-onnx"
    features, target = load_data(task)  # type: ignore[arg-type]
    pipeline = build_pipeline(1.0, MODEL_TYPES[task][0], task).fit(  # type: ignore[arg-type]
        features, target
    )
    graph = to_onnx(pipeline, features)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment(settings.experiment_name)
    with mlflow.start_run(run_name=f"{name}-onnx") as run:
        mlflow.log_params({"task": task, "exported_from": type(pipeline[-1]).__name__})
        metrics = evaluate(task, pipeline, features, target)  # type: ignore[arg-type]
        mlflow.log_metrics(metrics)
        info = mlflow.onnx.log_model(
            graph,
            name="model",
            registered_model_name=name,
            signature=infer_signature(features),
            input_example=features.head(3),
        )
    version = str(info.registered_model_version)
    signed_by = None
    if settings.model_signing_key:
        from app.lifecycle.signing import sign_version

        signed_by = sign_version(settings, name, version).key_id
    result: dict[str, Any] = {
        "model_name": name,
        "version": version,
        "run_id": run.info.run_id,
        "metrics": metrics,
        "signed_by": signed_by,
    }
    if alias:
        from app.lifecycle import promotion

        result["promotion"] = promotion.promote(settings, name, version, alias=alias).as_dict()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.onnx_model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", choices=["regression", "classification"], default="regression")
    parser.add_argument("--model-name", help="registered model name (default: MODEL_NAME-onnx)")
    parser.add_argument("--alias", help="promote the new version to this alias (publishes the fallback)")
    args = parser.parse_args(argv)
    result = register(Settings(), task=args.task, model_name=args.model_name, alias=args.alias)
    print(json.dumps(result, indent=2, default=str))
    if result["signed_by"] is None:
        print(
            "warning: unsigned (no MODEL_SIGNING_KEY); servers refuse it until "
            f"`python -m app sign --model-name {result['model_name']} --version {result['version']}`",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
