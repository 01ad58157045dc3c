"""A model server whose handler workers are all stuck says so on /ping and turns requests away.

Real model-server processes with ``SAGEMAKER_MODEL_SERVER_TIMEOUT=1`` and one
worker, so one hanging request holds the whole pool.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

# Every request is noted in runs.txt before it is served; {"op": "hang", "seconds": n}
# holds its worker for n seconds.
SCRIPT = """
import json
import os
import time


def model_fn(model_dir):
    return os.path.join(model_dir, "runs.txt")


def transform_fn(runs, data, content_type, accept):
    request = json.loads(data)
    with open(runs, "a") as handle:
        handle.write(request["name"] + "\\n")
    if request.get("op") == "hang":
        time.sleep(request["seconds"])
    return json.dumps({"served": request["name"]})
"""

ENV = {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}


def _start(servers: Any, tmp_path: Path, model_dir_factory: Any) -> tuple[Any, Path]:
    model_dir = model_dir_factory(tmp_path / "model", SCRIPT)
    return servers.start(model_dir, ENV), model_dir / "runs.txt"


def _hang(server: Any, seconds: float, answers: list[int]) -> threading.Thread:
    body = json.dumps({"name": "hang", "op": "hang", "seconds": seconds})
    thread = threading.Thread(
        target=lambda: answers.append(
            server.request("POST", "/invocations", body, timeout=60).status
        )
    )
    thread.start()
    return thread


def _wait_ping(server: Any, status: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while server.ping_status() != status:
        assert time.monotonic() < deadline, f"/ping never answered {status}:\n{server.stderr}"
        time.sleep(0.05)


def test_a_request_behind_a_stuck_pool_is_504_and_ping_is_unhealthy_until_a_worker_frees(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    server, runs = _start(servers, tmp_path, model_dir_factory)
    answers: list[int] = []
    hanging = _hang(server, 6, answers)
    try:
        deadline = time.monotonic() + 10
        while not runs.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        started = time.monotonic()
        behind = server.invoke(json.dumps({"name": "behind"}))
        waited = time.monotonic() - started
        assert behind.status == 504, behind.text
        assert "SAGEMAKER_MODEL_SERVER_TIMEOUT (1 s)" in behind.text
        assert 0.9 < waited < 5.0
        ping = server.request("GET", "/ping", timeout=2)
        assert ping.status == 500
        assert json.loads(ping.body)["status"] == "Unhealthy"
        assert "unhealthy: All 1 handler workers" in server.stderr
    finally:
        hanging.join(60)
    assert answers == [200]
    _wait_ping(server, 200)
    assert server.invoke(json.dumps({"name": "after"})).status == 200
    # The request turned away never reached the handler.
    assert runs.read_text().split() == ["hang", "after"]


def test_a_long_request_with_nobody_waiting_keeps_the_server_healthy(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    server, runs = _start(servers, tmp_path, model_dir_factory)
    answers: list[int] = []
    hanging = _hang(server, 3, answers)
    try:
        deadline = time.monotonic() + 10
        while not runs.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for _ in range(10):
            assert server.ping_status() == 200
            time.sleep(0.2)
    finally:
        hanging.join(60)
    assert answers == [200]


def test_a_bad_timeout_is_a_usage_error(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    failure = tmp_path / "failure"
    server = servers.start(
        model_dir_factory(tmp_path / "model", SCRIPT),
        {"MOORAGE_FAILURE_FILE": str(failure), "SAGEMAKER_MODEL_SERVER_TIMEOUT": "soon"},
        ready=False,
    )
    assert server.wait_exit() == 2
    assert "SAGEMAKER_MODEL_SERVER_TIMEOUT" in failure.read_text()
