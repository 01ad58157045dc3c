"""Benchmark: ``make serve`` on a fresh clone, to the example's first answer.

Run with ``.venv/bin/python bench/first_answer.py --overlay``. It
clones the repository (``--repo``, default this one) into a temporary folder;
``--overlay`` then copies this working tree's files (tracked and untracked,
not ignored) over the clone, to measure changes not yet committed. It runs
``make serve`` there with the server on a free port and its own data dir,
and from the start of ``make`` measures when each phase began (the ``==>``
lines the Makefile prints: venv, install, example, server start), when the
server listened, and when ``iris`` first answered an InvokeEndpoint with the
example's request (``examples/sklearn/build/input.csv``), signed with the
server's key, polled every 0.2 s.

pip installs from this machine's configuration (index, wheel cache): a first
run on a machine with an empty cache downloads everything and is slower.
Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clone(repo: Path, into: Path, overlay: bool) -> None:
    subprocess.run(["git", "clone", "--quiet", str(repo), str(into)], check=True)
    if not overlay:
        return
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = repo / os.fsdecode(name)
        target = into / os.fsdecode(name)
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif not source.exists() and target.exists():
            target.unlink()  # deleted in the working tree


def keys(data_dir: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(data_dir / "credentials")
    section = parser[parser.sections()[0]]
    return {
        "aws_access_key_id": section["aws_access_key_id"],
        "aws_secret_access_key": section["aws_secret_access_key"],
    }


def measure(clone_dir: Path, timeout_s: float) -> dict[str, Any]:
    data_dir = clone_dir / "bench-data"
    port = free_port()
    marks: dict[str, float] = {}
    output: list[str] = []
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "serve", f"SERVE_ARGS=--port {port} --data-dir {data_dir}"],
        cwd=clone_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            now = time.monotonic() - started
            if line.startswith("==> "):
                marks.setdefault(line[4:].strip().split(" ")[0], now)
            if " listening on " in line:
                marks.setdefault("listening", now)

    threading.Thread(target=read, daemon=True).start()
    body = (clone_dir / "examples" / "sklearn" / "build" / "input.csv").as_posix()
    try:
        runtime = None
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("make serve ended:\n" + "".join(output[-40:]))
            if "listening" in marks and runtime is None:
                runtime = boto3.client(
                    "sagemaker-runtime",
                    endpoint_url=f"http://127.0.0.1:{port}",
                    region_name="us-east-1",
                    config=Config(retries={"max_attempts": 1}),
                    **keys(data_dir),
                )
            if runtime is not None:
                try:
                    answer = runtime.invoke_endpoint(
                        EndpointName="iris",
                        ContentType="text/csv",
                        Body=Path(body).read_bytes(),
                    )
                    answer["Body"].read()
                    marks["first answer"] = time.monotonic() - started
                    break
                except Exception:
                    pass
            time.sleep(0.2)
        else:
            raise RuntimeError("no answer in time:\n" + "".join(output[-40:]))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {"marks_s": {k: round(v, 1) for k, v in marks.items()}, "output_lines": len(output)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository to clone")
    parser.add_argument(
        "--overlay", action="store_true", help="copy the working tree's uncommitted files over"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to give up after")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-clone-") as tmp:
        clone_dir = Path(tmp) / "moorage"
        clone(args.repo, clone_dir, args.overlay)
        result = measure(clone_dir, args.timeout)
    result.update(
        {
            "benchmark": "first_answer",
            "overlay": args.overlay,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        }
    )
    print(f"{'phase':<24} {'began at (s)':>12}")
    for name, at in result["marks_s"].items():
        print(f"{name:<24} {at:>12.1f}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
