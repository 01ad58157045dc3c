"""Process life of the model server: readiness, load failures, SIGTERM drain, orphaning."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from support.ports import free_port

SLOW_LOAD = """
    import os
    import time


    def model_fn(model_dir):
        gate = os.path.join(model_dir, "gate")
        deadline = time.monotonic() + 20
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        return lambda data: data
"""

SLOW_PREDICT = """
    import os
    import time


    def model_fn(model_dir):
        return model_dir


    def predict_fn(data, model):
        open(os.path.join(model, "started"), "w").close()
        time.sleep(data["seconds"])
        return {"slept": data["seconds"]}
"""

TRANSFORM = """
    def model_fn(model_dir):
        return "m"


    def transform_fn(model, input_data, content_type, accept):
        kind = type(input_data).__name__
        return f"{model}:{kind}:{content_type}:{accept}", "text/plain"
"""

BOTH = """
    def model_fn(model_dir):
        return None


    def transform_fn(model, input_data, content_type, accept):
        return b""


    def predict_fn(data, model):
        return data
"""

RAISING = """
    def model_fn(model_dir):
        raise ValueError("bad weights")
"""


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: nothing may reap an orphan in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def test_ping_is_503_until_model_fn_returns(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    model_dir = model_dir_factory(tmp_path / "model", SLOW_LOAD)
    server = servers.start(model_dir, ready=False)
    server.wait_listening()
    assert server.ping_status() == 503
    assert server.invoke("[1]").status == 503
    (model_dir / "gate").touch()
    server.wait_ready(10)
    assert json.loads(server.invoke("[1, 2]").body) == [1, 2]
    assert "listening on http://127.0.0.1:" in server.stdout


def test_transform_fn(servers: Any, tmp_path: Path, model_dir_factory: Any) -> None:
    server = servers.start(model_dir_factory(tmp_path / "model", TRANSFORM))
    text = server.invoke('{"a": 1}', Accept="text/x-custom")
    assert text.status == 200
    assert text.headers["Content-Type"] == "text/plain"
    assert text.text == "m:str:application/json:text/x-custom"
    raw = server.invoke(b"\x00\x01", "application/octet-stream")
    assert raw.text == "m:bytes:application/octet-stream:application/json"


def test_transform_fn_with_predict_fn_is_a_load_error(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    failure = tmp_path / "failure"
    server = servers.start(
        model_dir_factory(tmp_path / "model", BOTH),
        {"MOORAGE_FAILURE_FILE": str(failure)},
        ready=False,
    )
    assert server.wait_exit() == 3
    reason = failure.read_text()
    assert "transform_fn together with predict_fn" in reason
    assert reason in server.stderr


def test_model_fn_raising_reports_reason_and_exit_code(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    failure = tmp_path / "failure"
    server = servers.start(
        model_dir_factory(tmp_path / "model", RAISING),
        {"MOORAGE_FAILURE_FILE": str(failure)},
        ready=False,
    )
    assert server.wait_exit() == 4
    assert failure.read_text().strip() == "model_fn raised ValueError: bad weights"
    assert "Traceback" in server.stderr
    assert 'raise ValueError("bad weights")' in server.stderr


def test_bad_environment_is_usage_error(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    failure = tmp_path / "failure"
    server = servers.start(
        model_dir_factory(tmp_path / "model", TRANSFORM),
        {"MOORAGE_FAILURE_FILE": str(failure), "SAGEMAKER_MODEL_SERVER_WORKERS": "many"},
        ready=False,
    )
    assert server.wait_exit() == 2
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in failure.read_text()


def test_busy_port_is_exit_5(servers: Any, tmp_path: Path, model_dir_factory: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = servers.start(
            model_dir_factory(tmp_path / "model", TRANSFORM), port=port, ready=False
        )
        assert server.wait_exit() == 5
    assert f"Cannot listen on 127.0.0.1:{port}" in server.stderr


def test_unix_socket_serves_like_the_port_and_is_removed_on_exit(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    path = tmp_path / "copy.sock"
    path.write_text("left behind by a killed server")
    server = servers.start(
        model_dir_factory(tmp_path / "model", TRANSFORM), {"MOORAGE_UNIX_SOCKET": str(path)}
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(path))
        body = b'{"a": 1}'
        conn.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Accept: text/x-custom\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        answer = b""
        while not answer.endswith(b"m:str:application/json:text/x-custom"):
            chunk = conn.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert server.invoke('{"a": 1}').status == 200
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert not path.exists()


def test_help_documents_environment() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moorage.container", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    for name in (
        "SAGEMAKER_BIND_TO_PORT",
        "SAGEMAKER_PROGRAM",
        "MOORAGE_PARENT_PID",
        "MOORAGE_UNIX_SOCKET",
        "exit status",
    ):
        assert name in result.stdout


def test_sigterm_drains_in_flight_request_then_exits_0(
    servers: Any, tmp_path: Path, model_dir_factory: Any
) -> None:
    model_dir = model_dir_factory(tmp_path / "model", SLOW_PREDICT)
    server = servers.start(model_dir)
    results: list[Any] = []
    slow = threading.Thread(
        target=lambda: results.append(server.invoke(json.dumps({"seconds": 1.0})))
    )
    slow.start()
    deadline = time.monotonic() + 10
    while not (model_dir / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(OSError):  # no longer accepting
        server.request("GET", "/ping", timeout=2)
    slow.join(10)
    assert server.wait_exit() == 0
    assert [r.status for r in results] == [200]
    assert json.loads(results[0].body) == {"slept": 1.0}


# Starts the server and prints its pid. "wrapped" puts a shell in between, so
# the kernel's parent-death signal (tied to the shell) cannot fire and only the
# watcher of MOORAGE_PARENT_PID can notice the parent's death.
PARENT = """
    import os, subprocess, sys, time
    model_dir, port, mode = sys.argv[1:]
    env = dict(os.environ, MOORAGE_PARENT_PID=str(os.getpid()))
    argv = [sys.executable, "-m", "moorage.container", "--model-dir", model_dir, "--port", port]
    if mode == "wrapped":
        argv = ["sh", "-c", " ".join(argv) + "; true"]
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    print(child.pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.parametrize("mode", ["direct", "wrapped"])
def test_server_exits_when_its_parent_dies(
    servers: Any, tmp_path: Path, model_dir_factory: Any, mode: str
) -> None:

    model_dir = model_dir_factory(tmp_path / "model", TRANSFORM)
    port = free_port()
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT), str(model_dir), str(port), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    servers.track(parent)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    servers.pids.append(child_pid)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline, "the child server never listened"
            time.sleep(0.05)
    parent.kill()
    parent.wait(5)
    deadline = time.monotonic() + 3
    while not _gone(child_pid):
        assert time.monotonic() < deadline, "the model server outlived its parent"
        time.sleep(0.05)
