"""Small models for multi-model endpoints and inference pipelines, built as archives.

:func:`write_models` writes ``count`` model archives into a folder (the
``ModelDataUrl`` prefix of a multi-model endpoint): each reads its
``weights.bin`` (``weight_bytes`` of it) into memory in ``model_fn``, so that
it holds a known amount, and answers ``{"model": NAME, "pid": ..., "loads":
N, "input": ...}``; ``loads`` counts how often that model was loaded in the
process (its ``model_fn`` ran), which tells a reload from a cache hit.

:func:`stage_archive` builds one step of a serial inference pipeline: a
model whose ``transform_fn`` appends ``TAG<content-type|accept>`` (what it
was sent) to the JSON list it receives (or to a CSV line) and answers in the
type it is asked for, or in ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` when
asked for ``*/*``; the tag ``failing`` makes a step that raises.
"""

from __future__ import annotations

from pathlib import Path

from support.archives import write_archive

MODEL_SCRIPT = """
    import json
    import os
    import sys

    # Shared by every model of the process: how often each model was loaded.
    LOADS = sys.modules.setdefault("mme_test_loads", type(sys)("mme_test_loads"))


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "name.txt")) as handle:
            name = handle.read().strip()
        if name.startswith("broken"):
            raise RuntimeError("this model is broken on purpose")
        with open(os.path.join(model_dir, "weights.bin"), "rb") as handle:
            weights = handle.read()
        count = getattr(LOADS, name, 0) + 1
        setattr(LOADS, name, count)
        return {"name": name, "weights": weights, "loads": count}


    def transform_fn(model, input_data, content_type, accept):
        answer = {"model": model["name"], "pid": os.getpid(), "loads": model["loads"],
                  "input": input_data if isinstance(input_data, str) else input_data.decode()}
        return json.dumps(answer), "application/json"
"""


def model_archive(path: Path, name: str, weight_bytes: int = 1024) -> Path:
    return write_archive(
        path,
        {
            "code/inference.py": MODEL_SCRIPT,
            "name.txt": name,
            # Random-looking bytes: the archive's compression must not hide the size.
            "weights.bin": (name.encode() * (weight_bytes // max(1, len(name)) + 1))[:weight_bytes],
        },
    )


def write_models(folder: Path, count: int, *, weight_bytes: int = 1024) -> list[str]:
    """``model-0.tar.gz`` ... in ``folder``; returns their TargetModel names."""
    names = []
    for index in range(count):
        target = f"model-{index}.tar.gz"
        model_archive(folder / target, f"model-{index}", weight_bytes)
        names.append(target)
    return names


STAGE_SCRIPT = """
    import json
    import os


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "tag.txt")) as handle:
            return handle.read().strip()


    def transform_fn(model, input_data, content_type, accept):
        if model == "failing":
            raise ValueError("this step fails on purpose")
        if content_type == "text/csv":
            items = input_data.strip().split(",")
        else:
            items = json.loads(input_data)
        items.append(model + "<" + content_type + "|" + accept + ">")
        if accept in ("", "*/*"):
            accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
        if accept == "text/csv":
            return ",".join(items), "text/csv"
        return json.dumps(items), "application/json"
"""


def stage_archive(path: Path, tag: str) -> Path:
    return write_archive(path, {"code/inference.py": STAGE_SCRIPT, "tag.txt": tag})
