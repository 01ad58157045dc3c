"""What stops ``moorage serve`` (and the client commands) with one line instead of a traceback.

A second server on the same data dir is refused in tests/api/test_data_dir.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.endpoints import create_model, variant, wait_in_service
from support.server import BIN, MoorageServer, running


def serve(data_dir: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``moorage serve`` expected to refuse to start (killed if it does start)."""
    try:
        return subprocess.run(
            [str(BIN / "moorage"), "serve", "--data-dir", str(data_dir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"moorage serve did not refuse to start: {exc.stdout!r}") from None


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("moorage serve: ")
    return lines[0]


def test_a_taken_port_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve(tmp_path / "data", "--port", str(port))
    assert done.returncode == 2
    line = one_line(done)
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "--port" in line
    # Nothing started: no model server, no database.
    assert not (tmp_path / "data" / "moorage.db").exists()


def test_a_port_taken_by_another_moorage_server(tmp_path: Path) -> None:
    with running(tmp_path / "first") as first:
        port = first.url.rsplit(":", 1)[1]
        done = serve(tmp_path / "second", "--port", port)
        assert done.returncode == 2
        assert f"port {port} on 127.0.0.1 is already in use" in one_line(done)
        # The first one is untouched.
        assert first.sagemaker.list_endpoints()["Endpoints"] == []


def test_an_address_that_is_not_this_machines(tmp_path: Path) -> None:
    done = serve(tmp_path / "data", "--host", "192.0.2.1", "--port", "0")
    assert done.returncode == 2
    assert "192.0.2.1" in one_line(done)


def test_a_missing_image_map_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "images.json"
    done = serve(tmp_path / "data", "--port", "0", "--image-map", str(missing))
    assert done.returncode == 2
    assert one_line(done) == f"moorage serve: --image-map {missing}: no such file"


def test_an_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    done = serve(tmp_path / "data", "--port", "0", "--log-level", "LOUD")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "'LOUD' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in done.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    with running(tmp_path_factory.mktemp("guards"), extra_args=("--access-log",)) as srv:
        yield srv


@pytest.mark.parametrize(
    "url",
    ["ftp://bucket/model.tar.gz", "models/model.tar.gz", "http://example.com/model.tar.gz"],
)
def test_a_bad_model_data_url_names_the_accepted_forms(server: MoorageServer, url: str) -> None:
    with pytest.raises(ClientError) as raised:
        server.sagemaker.create_model(
            ModelName="bad-url", PrimaryContainer={"Image": "any", "ModelDataUrl": url}
        )
    message = raised.value.response["Error"]["Message"]
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert url in message
    for form in ("s3://", "https://", "file:///absolute/path", "/absolute/path"):
        assert form in message, message


def test_the_access_log_prints_one_line_per_request(server: MoorageServer) -> None:
    server.sagemaker.list_endpoints()
    # The server's output is read by a thread: the line may come a moment later.
    deadline = time.monotonic() + 10
    while not any('"POST / HTTP/1.1" 200' in line for line in server.output):
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)


def test_a_reader_that_goes_away_ends_the_command_quietly(
    server: MoorageServer, tmp_path: Path
) -> None:
    """``moorage plan ... | head``: the pipe closes before the plan is written."""
    sm = server.sagemaker
    url = toolbox_archive(tmp_path / "m.tar.gz").as_uri()
    create_model(sm, "piped", url)
    for config in ("piped-1", "piped-2"):
        sm.create_endpoint_config(
            EndpointConfigName=config, ProductionVariants=[variant("AllTraffic", "piped")]
        )
    sm.create_endpoint(EndpointName="piped", EndpointConfigName="piped-1")
    wait_in_service(sm, "piped")
    for command in (["plan", "piped", "piped-2"], ["ls"]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the command writes anything
        try:
            done = subprocess.run(
                [
                    str(BIN / "moorage"),
                    *command,
                    "--url",
                    server.url,
                    "--data-dir",
                    str(server.data_dir),
                ],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            os.close(write)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
