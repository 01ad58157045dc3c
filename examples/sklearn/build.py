"""Train the example iris classifier and package it as SageMaker expects.

Writes ``model.tar.gz`` holding ``model.joblib`` and ``code/inference.py``, and
``input.csv``, one request for it (one flower's four measurements).
The data set ships with scikit-learn, so nothing is downloaded.

    .venv/bin/python examples/sklearn/build.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
import tarfile
import tempfile
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent


def build(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    iris = load_iris()
    model = LogisticRegression(max_iter=500).fit(iris.data, iris.target)
    archive = output_dir / "model.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        joblib.dump(model, Path(tmp) / "model.joblib")
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(Path(tmp) / "model.joblib", arcname="model.joblib")
            tar.add(HERE / "code" / "inference.py", arcname="code/inference.py")
    # A request for it, which `moorage serve --deploy` shows in its hint.
    (output_dir / "input.csv").write_text("5.1,3.5,1.4,0.2\n")
    return archive


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "build"
    print(build(target))
