"""The README's commands and the examples run as written, with the server's key.

The key comes from ``moorage credentials`` as the README says; where the
README relies on the ``moorage`` profile's endpoint, ``AWS_ENDPOINT_URL``
points the clients at the test's server instead. The AWS CLI here is the
dev extra's (version 1); the README's command avoids what only version 2
has.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
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


def readme_block(language: str, after: str) -> str:
    """The README's first ``language`` code block after the text ``after``."""
    text = (ROOT / "README.md").read_text()
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert match is not None, f"no {language} block after {after!r}"
    return match[1]


def _env(server: MoorageServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(_exports(server))
    env["MOORAGE_URL"] = server.url
    env["AWS_ENDPOINT_URL"] = server.url
    return env


def _hint(server: MoorageServer, prefix: str, timeout: float = 60) -> str:
    """The line of the server's --deploy hint that starts with ``prefix``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(server.output):
            if line.strip().startswith(prefix):
                return line.strip()
        time.sleep(0.1)
    raise AssertionError("".join(server.output))


def test_make_serve_endpoint_answers_the_readme_commands_and_the_hint(tmp_path: Path) -> None:
    # The layout of a clone after `make serve`: the example and its request under build/.
    build = tmp_path / "examples" / "sklearn" / "build"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sklearn" / "build.py"), str(build)], check=True
    )
    deploy = f"iris={build / 'model.tar.gz'}"
    with running(tmp_path / "data", extra_args=("--deploy", deploy)) as server:
        env = _env(server)
        waited = subprocess.run(
            [
                str(BIN / "moorage"),
                "wait",
                "iris",
                "--url",
                server.url,
                "--data-dir",
                str(server.data_dir),
                "--timeout",
                "3m",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
            check=False,
        )
        assert waited.returncode == 0, waited.stderr

        snippet = readme_block("python", "invoke it with boto3")
        assert 'WaiterConfig={"Delay": 1}' in snippet
        done = subprocess.run(
            [sys.executable, "-c", snippet],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "'predictions': [0]" in done.stdout

        command = readme_block("sh", "or with the AWS CLI").replace("\\\n", " ")
        assert "--cli-binary-format" not in command  # AWS CLI v2 only
        cli = subprocess.run(
            [str(BIN / shlex.split(command)[0]), *shlex.split(command)[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=tmp_path,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        assert '{"predictions": [0]' in cli.stdout

        # The start-up hint's command, as printed, with this request.
        hinted = shlex.split(_hint(server, "aws --endpoint-url"))
        assert f"fileb://{build / 'input.csv'}" in hinted
        hint_cli = subprocess.run(
            [str(BIN / "aws"), *hinted[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert hint_cli.returncode == 0, hint_cli.stderr
        assert '{"predictions": [0]' in hint_cli.stdout


def test_streaming_and_lora_examples_run_twice(tmp_path: Path) -> None:
    for example in ("streaming", "lora"):
        subprocess.run([sys.executable, str(ROOT / "examples" / example / "build.py")], check=True)
    with running(tmp_path / "data") as server:
        env = _env(server)
        for attempt in (1, 2):
            streamed = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "examples" / "streaming" / "stream.py"),
                    "the tide",
                    "--tokens",
                    "30",
                    "--delay",
                    "0",
                ],
                capture_output=True,
                text=True,
                timeout=240,
                env=env,
                check=False,
            )
            assert streamed.returncode == 0, (attempt, streamed.stdout + streamed.stderr)
            assert "streaming-example is InService after " in streamed.stdout
            last = streamed.stdout.splitlines()[-1]
            assert last.startswith("the tide") and len(last) == len("the tide") + 30

            lora = subprocess.run(
                [sys.executable, str(ROOT / "examples" / "lora" / "deploy.py")],
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
                check=False,
            )
            assert lora.returncode == 0, (attempt, lora.stdout + lora.stderr)
            answers = [line for line in lora.stdout.splitlines() if "(expected" in line]
            assert len(answers) == 2
            for line in answers:
                got, _, want = line.partition(" (expected ")
                assert got.split(": ", 1)[1] == want.rstrip(")"), line
        assert server.sagemaker.list_endpoints()["Endpoints"] == []
