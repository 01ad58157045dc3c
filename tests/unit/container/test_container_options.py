"""Command line and environment parsing, the failure file, request-body limits."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from moorage.container.errors import ExitCode, InvocationError, StartupError
from moorage.container.http import error_status, read_body
from moorage.container.lifecycle import parent_alive, write_failure
from moorage.container.options import DEFAULT_WORKERS, parse


def test_defaults(tmp_path: Path) -> None:
    options = parse(["--model-dir", str(tmp_path)], {})
    assert options.port == 8080
    assert options.host == "127.0.0.1"
    assert options.program == "inference.py"
    assert options.workers == DEFAULT_WORKERS
    assert options.default_accept == "application/json"
    assert options.failure_file is None
    assert options.parent_pid is None
    assert options.timeout_s == 60.0


def test_port_flag_beats_environment() -> None:
    env = {"SAGEMAKER_BIND_TO_PORT": "9000", "SM_MODEL_DIR": "/models/a"}
    assert parse([], env).port == 9000
    assert parse(["--port", "9001"], env).port == 9001
    assert parse([], env).model_dir == Path("/models/a")


def test_environment_settings() -> None:
    env = {
        "SAGEMAKER_PROGRAM": "serve.py",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
        "MOORAGE_FAILURE_FILE": "/tmp/f",
        "MOORAGE_PARENT_PID": "123",
        "MOORAGE_SHUTDOWN_GRACE_SECONDS": "1.5",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "7",
    }
    options = parse(["--model-dir", "/m"], env)
    assert (options.program, options.workers, options.default_accept) == ("serve.py", 2, "text/csv")
    assert options.failure_file == Path("/tmp/f")
    assert options.parent_pid == 123
    assert options.shutdown_grace_s == 1.5
    assert options.timeout_s == 7.0


def test_code_dir_flag_beats_environment_and_defaults_to_none() -> None:
    assert parse(["--model-dir", "/m"], {}).code_dir is None
    env = {"MOORAGE_CODE_DIR": "/code/a"}
    assert parse(["--model-dir", "/m"], env).code_dir == Path("/code/a")
    assert parse(["--model-dir", "/m", "--code-dir", "/code/b"], env).code_dir == Path("/code/b")


@pytest.mark.parametrize(
    ("text", "level"),
    [(None, 20), ("", 20), ("20", 20), ("10", 10), ("debug", 10), ("WARNING", 30), (" 40 ", 40)],
)
def test_container_log_level(text: str | None, level: int) -> None:
    env = {} if text is None else {"SAGEMAKER_CONTAINER_LOG_LEVEL": text}
    assert parse(["--model-dir", "/m"], env).log_level == level


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--port", "http"], {}, "--port"),
        ([], {"SAGEMAKER_BIND_TO_PORT": "70000"}, "SAGEMAKER_BIND_TO_PORT"),
        ([], {"SAGEMAKER_MODEL_SERVER_WORKERS": "0"}, "SAGEMAKER_MODEL_SERVER_WORKERS"),
        ([], {"MOORAGE_PARENT_PID": "x"}, "MOORAGE_PARENT_PID"),
        ([], {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "0"}, "SAGEMAKER_MODEL_SERVER_TIMEOUT"),
        ([], {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "1.5"}, "SAGEMAKER_MODEL_SERVER_TIMEOUT"),
        ([], {"MOORAGE_SHUTDOWN_GRACE_SECONDS": "soon"}, "MOORAGE_SHUTDOWN_GRACE_SECONDS"),
        ([], {"SAGEMAKER_CONTAINER_LOG_LEVEL": "loud"}, "SAGEMAKER_CONTAINER_LOG_LEVEL"),
        ([], {"SAGEMAKER_CONTAINER_LOG_LEVEL": "99"}, "SAGEMAKER_CONTAINER_LOG_LEVEL"),
        (["--bogus"], {}, "--bogus"),
    ],
)
def test_bad_values_are_usage_errors(argv: list[str], env: dict[str, str], named: str) -> None:
    with pytest.raises(StartupError) as caught:
        parse(argv, env)
    assert caught.value.code == ExitCode.USAGE
    assert named in caught.value.reason


def test_failure_file_is_one_paragraph(tmp_path: Path) -> None:
    target = tmp_path / "failure"
    write_failure(target, "model_fn raised ValueError: bad\n  weights")
    assert target.read_text() == "model_fn raised ValueError: bad weights\n"
    assert list(tmp_path.iterdir()) == [target]
    write_failure(None, "nowhere")
    write_failure(tmp_path / "no" / "dir", "cannot be written")  # reported, not raised


def test_parent_alive() -> None:
    assert parent_alive(os.getpid(), os.getppid())
    assert not parent_alive(os.getpid(), os.getppid() + 1)


def test_error_status() -> None:
    assert error_status(InvocationError(415, "nope")) == (415, "nope")
    assert error_status(ValueError("bad")) == (500, "ValueError: bad")

    class Toolkit(Exception):
        status_code = 422

    assert error_status(Toolkit("x")) == (422, "Toolkit: x")


def messages(*bodies: bytes) -> Any:
    queue = [
        {"type": "http.request", "body": body, "more_body": i < len(bodies) - 1}
        for i, body in enumerate(bodies)
    ]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def test_read_body_joins_parts_and_enforces_the_limit() -> None:
    assert asyncio.run(read_body(messages(b"ab", b"cd"), None, limit=4)) == b"abcd"
    with pytest.raises(InvocationError) as caught:
        asyncio.run(read_body(messages(b"abc", b"de"), None, limit=4))
    assert caught.value.status == 413
    with pytest.raises(InvocationError) as caught:
        asyncio.run(read_body(messages(b""), b"5", limit=4))
    assert caught.value.status == 413
