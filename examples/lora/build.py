"""Build the LoRA example: a base model archive and an adapter archive.

.venv/bin/python examples/lora/build.py [OUTPUT_DIR]

Writes ``OUTPUT_DIR/base.tar.gz`` (a 3x4 linear layer and its inference
script) and ``OUTPUT_DIR/adapter.tar.gz`` (a rank-1 update of that layer).
:func:`expected` computes what the base and the adapted model answer, so
the example (and its test) can check the served answers.
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

WEIGHTS = [[1.0, 0.0, 2.0, -1.0], [0.5, 1.5, 0.0, 0.0], [0.0, -2.0, 1.0, 3.0]]
# Rank 1: B is 3x1, A is 1x4; alpha / r = 2.
A = [[1.0, 0.0, 0.0, 1.0]]
B = [[0.5], [0.0], [-1.0]]
ALPHA = 2.0


def expected(inputs: list[float], adapter: bool) -> list[float]:
    weights = np.asarray(WEIGHTS)
    if adapter:
        a, b = np.asarray(A), np.asarray(B)
        weights = weights + ALPHA / a.shape[0] * (b @ a)
    result: list[float] = (weights @ np.asarray(inputs)).tolist()
    return result


def _archive(path: Path, files: dict[str, Path]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, source in files.items():
            tar.add(source, arcname=name)
    return path


def build(output_dir: Path) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.json"
        base.write_text(json.dumps({"weights": WEIGHTS}))
        adapter = Path(tmp) / "adapter.json"
        adapter.write_text(json.dumps({"A": A, "B": B, "alpha": ALPHA}))
        return (
            _archive(
                output_dir / "base.tar.gz",
                {"base.json": base, "code/inference.py": HERE / "code" / "inference.py"},
            ),
            _archive(output_dir / "adapter.tar.gz", {"adapter.json": adapter}),
        )


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "build"
    for path in build(target):
        print(path)
