"""A tiny streaming text generator (a character-level Markov chain).

``predict_fn`` returns a generator, so moorage's model server streams each
token as soon as it is produced; InvokeEndpointWithResponseStream delivers
them to the caller as PayloadPart events.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from typing import Any


def model_fn(model_dir: str) -> dict[str, Any]:
    with open(os.path.join(model_dir, "chain.json")) as handle:
        chain: dict[str, Any] = json.load(handle)
    return chain


def input_fn(request_body: bytes | str, content_type: str) -> dict[str, Any]:
    text = request_body.decode() if isinstance(request_body, bytes) else request_body
    data: dict[str, Any] = json.loads(text) if text.strip() else {}
    return data


def predict_fn(data: dict[str, Any], model: dict[str, Any]) -> Iterator[str]:
    order = int(model["order"])
    table: dict[str, list[str]] = model["table"]
    rng = random.Random(int(data.get("seed", 0)))
    state = str(data.get("prompt", ""))[-order:].rjust(order)
    delay = float(data.get("delay", 0.0))
    for _ in range(int(data.get("max_tokens", 40))):
        choices = table.get(state) or table[rng.choice(list(table))]
        token = rng.choice(choices)
        yield token
        state = (state + token)[-order:]
        if delay:
            time.sleep(delay)


def output_fn(prediction: Any, accept: str) -> Any:
    return prediction
