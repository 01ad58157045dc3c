"""The README's quickstart runs as written: the server's key from ``moorage credentials``."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from support.server import BIN, MoorageServer, running

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_with_the_exported_key(tmp_path: Path) -> None:
    artifact = ROOT / "examples" / "sklearn" / "build" / "model.tar.gz"
    if not artifact.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "sklearn" / "build.py")], check=True
        )
    with running(tmp_path / "data") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(_exports(server))
        env["MOORAGE_URL"] = server.url
        done = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "quickstart.py")],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "answer: {'predictions': [0, 2]" in done.stdout
    assert "cleaned up" in done.stdout


def _exports(server: MoorageServer) -> dict[str, str]:
    done = subprocess.run(
        [str(BIN / "moorage"), "credentials", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = (shlex.split(line)[1].partition("=") for line in done.stdout.splitlines())
    return {name: value for name, _, value in pairs}
