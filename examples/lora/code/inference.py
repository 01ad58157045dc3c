"""A tiny base model with LoRA-style adapters, for inference components.

The base model is one linear layer, ``y = W x``. An adapter is a low-rank
update of that layer, as LoRA adds to a large model's weight matrices:
``W' = W + (alpha / r) * B A`` with ``B`` of shape (outputs, r) and ``A`` of
shape (r, inputs). moorage loads an adapter inference component into every
copy of its base component (``load_adapter``) and marks each request for it
with the adapter's name (``context.adapter``); a request without one is
answered by the base model alone.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np


def model_fn(model_dir: str) -> dict[str, Any]:
    with open(os.path.join(model_dir, "base.json")) as handle:
        weights = np.asarray(json.load(handle)["weights"], dtype=np.float64)
    return {"weights": weights, "adapters": {}}


def load_adapter(model: dict[str, Any], name: str, adapter_dir: str) -> None:
    with open(os.path.join(adapter_dir, "adapter.json")) as handle:
        adapter = json.load(handle)
    a = np.asarray(adapter["A"], dtype=np.float64)
    b = np.asarray(adapter["B"], dtype=np.float64)
    scale = float(adapter["alpha"]) / a.shape[0]
    delta = scale * (b @ a)
    if delta.shape != model["weights"].shape:
        raise ValueError(
            f"adapter {name} changes a {delta.shape} matrix, the base has {model['weights'].shape}"
        )
    model["adapters"][name] = delta


def unload_adapter(model: dict[str, Any], name: str) -> None:
    model["adapters"].pop(name, None)


def input_fn(request_body: str | bytes, content_type: str) -> np.ndarray:
    text = request_body.decode() if isinstance(request_body, bytes) else request_body
    return np.asarray(json.loads(text)["inputs"], dtype=np.float64)


def predict_fn(data: np.ndarray, model: dict[str, Any], context: Any) -> dict[str, Any]:
    weights = model["weights"]
    if context.adapter is not None:
        weights = weights + model["adapters"][context.adapter]
    return {"outputs": (weights @ data).tolist(), "adapter": context.adapter}


def output_fn(prediction: dict[str, Any], accept: str) -> tuple[str, str]:
    return json.dumps(prediction), "application/json"
