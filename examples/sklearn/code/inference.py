"""Inference handlers for the example scikit-learn iris classifier.

The SageMaker inference toolkit convention: moorage's model server imports
this file from ``code/`` in the model archive and calls these functions.
"""

from __future__ import annotations

import json
import os
from typing import Any

import joblib
import numpy as np


def model_fn(model_dir: str) -> Any:
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body: bytes | str, content_type: str) -> Any:
    if isinstance(request_body, bytes):
        request_body = request_body.decode("utf-8")
    if content_type == "application/json":
        data = json.loads(request_body)
        rows = data["instances"] if isinstance(data, dict) else data
        return np.asarray(rows, dtype=float)
    if content_type == "text/csv":
        return np.asarray(
            [[float(x) for x in line.split(",")] for line in request_body.strip().splitlines()]
        )
    raise ValueError(f"unsupported content type: {content_type}")


def predict_fn(data: Any, model: Any) -> dict[str, Any]:
    probabilities = model.predict_proba(data)
    return {
        "predictions": [model.classes_[i].item() for i in probabilities.argmax(axis=1)],
        "probabilities": probabilities.round(4).tolist(),
    }


def output_fn(prediction: dict[str, Any], accept: str) -> tuple[str, str]:
    if accept == "text/csv":
        return "\n".join(str(p) for p in prediction["predictions"]), "text/csv"
    return json.dumps(prediction), "application/json"
