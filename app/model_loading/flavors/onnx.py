"""ONNX: one ``onnxruntime.InferenceSession`` per model, on the CPU, sized for one vCPU.

The protobuf graph is run, never unpickled. The signed files are written to a private
directory (the graph may keep its tensors in external-data files next to it) and the
session loads from there; onnxruntime refuses external data outside that directory.
Inputs map from the served frame: a single graph input takes every column in signature
order, several inputs take the column of the same name; each is cast to its tensor type.
Outputs are what MLflow's pyfunc returns for a DataFrame, as records: one object per row
with one key per graph output.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from app.model_loading import artifacts
from app.model_loading.flavors.base import (
    MAX_MODEL_BYTES,
    Deserialized,
    PredictFn,
    Spec,
    data_file,
    section,
)
from app.model_loading.mlmodel import MLmodel
from app.model_loading.trust import ArtifactFiles
from app.model_loading.types import LoadError
from app.settings import Settings
from app.signing.claims import ServingClaims

FLAVOR = "onnx"
FORMAT = "onnx"
# A Flex Consumption instance of 2 GB has one vCPU: more threads only contend for it (and
# onnxruntime's spinning worker threads would burn it between requests).
THREADS = 1
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


def describe(meta: MLmodel) -> Spec:
    config = section(meta, FLAVOR)
    return Spec(FLAVOR, FORMAT, data_file(config, "data", FLAVOR))


def load(settings: Settings, spec: Spec, files: ArtifactFiles, claims: ServingClaims | None) -> Deserialized:
    assert spec.model_file is not None
    workdir = tempfile.TemporaryDirectory(prefix="onnx-")
    root = Path(workdir.name)
    model_bytes = b""
    # Every signed file (external data has names of its own); unsigned: the graph alone.
    for name in sorted({spec.model_file, *files.names} - {"MLmodel"}):
        data = files.read(name, MAX_MODEL_BYTES)
        if name == spec.model_file:
            model_bytes = data
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    session = _session(root / spec.model_file)
    predict = _predictor(session, workdir)
    return Deserialized(
        predict, "onnxruntime.InferenceSession", FLAVOR, FORMAT, artifacts.sha256_hex(model_bytes)
    )


def _session(path: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = THREADS
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph/...
        first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise LoadError(f"onnxruntime could not load {path.name}: {first}") from None


def _predictor(session: Any, keep: Any) -> PredictFn:
    inputs = [(i.name, _DTYPES.get(i.type), len(i.shape or ())) for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if not inputs:
        raise LoadError("the ONNX graph has no inputs")

    def feed(frame: Any) -> dict[str, Any]:
        if len(inputs) == 1:
            name, dtype, _ = inputs[0]
            return {name: frame.to_numpy(dtype=dtype)}
        fed = {}
        for name, dtype, rank in inputs:
            column = frame[name].to_numpy(dtype=dtype)
            fed[name] = column.reshape(-1, 1) if rank == 2 else column
        return fed

    def run(frame: Any, params: dict[str, Any] | None, _keep: Any = keep) -> list[dict[str, Any]]:
        results = session.run(outputs, feed(frame))
        return _records(outputs, results, len(frame))

    return run


def _records(names: list[str], results: list[Any], rows: int) -> list[dict[str, Any]]:
    """MLflow's DataFrame of outputs (each flattened) as JSON-ready records; an output with
    several values per row (which MLflow cannot put in a DataFrame) gives a list per row."""
    columns = []
    for value in results:
        array = np.asarray(value)
        if array.ndim > 1 and array.size != rows and array.shape[0] == rows:
            columns.append(array.tolist())
        else:
            columns.append(array.reshape(-1).tolist())
    if any(len(column) != rows for column in columns):
        raise ValueError("the ONNX graph returned outputs of a different length than its input")
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
