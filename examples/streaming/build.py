"""Build the streaming example's model archive (a Markov chain over a text).

.venv/bin/python examples/streaming/build.py [OUTPUT_DIR]
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent

TEXT = (
    "the harbour was quiet at dawn and the boats rocked at their moorings. "
    "a ship that is moored is safe, but that is not what ships are built for. "
    "the tide came in and the ropes held, and the lanterns on the quay went out one by one. "
)
ORDER = 3


def chain(text: str, order: int) -> dict[str, list[str]]:
    table: dict[str, list[str]] = defaultdict(list)
    padded = " " * order + text
    for i in range(len(text)):
        table[padded[i : i + order]].append(padded[i + order])
    return dict(table)


def build(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    archive = output_dir / "model.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain.json"
        path.write_text(json.dumps({"order": ORDER, "table": chain(TEXT, ORDER)}))
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(path, arcname="chain.json")
            tar.add(HERE / "code" / "inference.py", arcname="code/inference.py")
    return archive


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "build"
    print(build(target))
