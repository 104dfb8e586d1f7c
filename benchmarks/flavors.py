"""What differs per model flavor in a benchmark run: how the sample model is made, how the
raw model is loaded and called (``raw_predict`` and the cold-start floor), and how a
prediction is read from a response. The request body (the diabetes features) is the same.

- sklearn: ``train`` (Ridge pipeline, skops); floor = skops load.
- xgboost / lightgbm: ``train --model-type xgboost|lightgbm`` (native UBJ / text model);
  floor = the library's own load of that file.
- onnx: ``examples/onnx_model.py`` (the Ridge pipeline exported with skl2onnx);
  floor = an onnxruntime session on the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FLAVORS = ("sklearn", "xgboost", "lightgbm", "onnx")

# python, imports, load, one prediction (argv: model file, trusted types JSON, row JSON).
FLOOR_SCRIPTS = {
    "sklearn": """
import json, sys
import pandas as pd
import skops.io
with open(sys.argv[1], "rb") as f:
    model = skops.io.loads(f.read(), trusted=json.loads(sys.argv[2]) or None)
print(float(model.predict(pd.DataFrame([json.loads(sys.argv[3])]))[0]), flush=True)
""",
    "xgboost": """
import json, sys
import pandas as pd
import xgboost
model = xgboost.XGBRegressor()
model.load_model(sys.argv[1])
print(float(model.predict(pd.DataFrame([json.loads(sys.argv[3])]))[0]), flush=True)
""",
    "lightgbm": """
import json, sys
import pandas as pd
import lightgbm
model = lightgbm.Booster(model_file=sys.argv[1])
print(float(model.predict(pd.DataFrame([json.loads(sys.argv[3])]))[0]), flush=True)
""",
    "onnx": """
import json, sys
import numpy as np
import onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
row = np.asarray([list(json.loads(sys.argv[3]).values())], dtype=np.float32)
print(float(session.run(None, {session.get_inputs()[0].name: row})[0].reshape(-1)[0]), flush=True)
""",
}


def check(flavor: str) -> str:
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}: choose from {', '.join(FLAVORS)}")
    return flavor


def publish(settings: Any, flavor: str) -> str:
    """Make, sign and register the sample model of ``flavor``; the new version."""
    if flavor == "onnx":
        from examples.onnx_model import register

        return str(register(settings, model_name=settings.model_name)["version"])
    from app.lifecycle.training import train

    return train(settings, alpha=1.0, model_type=None if flavor == "sklearn" else flavor).version


class RawModel:
    """The model file loaded by its own library, outside the project: ``predict(frame)``."""

    def __init__(self, flavor: str, model_file: Path, trusted: list[str]) -> None:
        self.flavor = flavor
        if flavor == "sklearn":
            import skops.io

            self.model = skops.io.loads(model_file.read_bytes(), trusted=trusted or None)
        elif flavor == "xgboost":
            import xgboost

            self.model = xgboost.XGBRegressor()
            self.model.load_model(str(model_file))
        elif flavor == "lightgbm":
            import lightgbm

            self.model = lightgbm.Booster(model_file=str(model_file))
        else:
            import onnxruntime

            self.model = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
            self.input = self.model.get_inputs()[0].name

    @property
    def class_name(self) -> str:
        return type(self.model).__name__

    def predict(self, frame: Any) -> np.ndarray:
        if self.flavor == "onnx":
            feed = {self.input: frame.to_numpy(dtype=np.float32)}
            return np.asarray(self.model.run(None, feed)[0]).reshape(-1)
        return np.asarray(self.model.predict(frame))


def values(predictions: list[Any]) -> np.ndarray:
    """Predictions as floats; a record per row (what ONNX models return, as MLflow does)
    gives its first value."""
    if predictions and isinstance(predictions[0], dict):
        predictions = [next(iter(row.values())) for row in predictions]
    return np.asarray(predictions, dtype=float)
