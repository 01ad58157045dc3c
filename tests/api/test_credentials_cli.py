"""``moorage credentials``: the server's key as exports and as an AWS profile, used unchanged."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support.server import BIN, MoorageServer


def _moorage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "moorage"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _exported(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        assert words[0] == "export"
        name, _, value = words[1].partition("=")
        values[name] = value
    return values


def test_exports_are_the_servers_key_and_work_for_the_aws_cli(server: MoorageServer) -> None:
    done = _moorage("credentials", "--data-dir", str(server.data_dir))
    assert done.returncode == 0, done.stderr
    exported = _exported(done.stdout)
    keys = server.credentials
    assert exported == {
        "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    listed = subprocess.run(
        [str(BIN / "aws"), "--endpoint-url", server.url, "sagemaker", "list-models"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **exported},
    )
    assert listed.returncode == 0, listed.stderr
    with_urls = _exported(
        _moorage(
            "credentials",
            "--data-dir",
            str(server.data_dir),
            "--endpoint-urls",
            "--url",
            server.url,
        ).stdout
    )
    assert with_urls["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == server.url


SCRIPT = """
import boto3
sm = boto3.client("sagemaker")
print(sm.meta.endpoint_url)
print(len(sm.list_models()["Models"]) >= 0)
cw = boto3.client("cloudwatch")
print("MetricAlarms" in cw.describe_alarms(AlarmNamePrefix="profile-"))
rt = boto3.client("sagemaker-runtime")
try:
    rt.invoke_endpoint(EndpointName="profile-nowhere", Body=b"{}")
except rt.exceptions.ValidationError as exc:
    print("ValidationError")
"""


def test_a_written_profile_runs_an_unchanged_script_and_keeps_other_profiles(
    server: MoorageServer, tmp_path: Path
) -> None:
    credentials, config = tmp_path / "credentials", tmp_path / "config"
    credentials.write_text(
        "# my keys\n[default]\naws_access_key_id = AKIAMINE\naws_secret_access_key = mine\n\n"
        "[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = work\n"
    )
    config.write_text("[default]\nregion = eu-west-1\n\n[profile work]\nregion = eu-central-1\n")
    files = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": str(config)}
    for _ in range(2):  # writing it again replaces it
        done = _moorage(
            "credentials",
            "--data-dir",
            str(server.data_dir),
            "--write-profile",
            "moorage",
            "--url",
            server.url,
            env=files,
        )
        assert done.returncode == 0, done.stderr
    text = credentials.read_text()
    assert text.startswith("# my keys\n[default]\naws_access_key_id = AKIAMINE\n")
    assert "[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = work\n" in text
    assert text.count("[moorage]") == 1
    assert server.credentials["aws_secret_access_key"] in text
    assert (credentials.stat().st_mode & 0o077) == 0
    config_text = config.read_text()
    assert "[profile work]\nregion = eu-central-1\n" in config_text
    assert config_text.count("[profile moorage]") == 1
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **files,
            "AWS_PROFILE": "moorage",
        },
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [server.url, "True", "True", "ValidationError"]


@pytest.mark.parametrize("name", ["default", "bad name", ""])
def test_unusable_profile_names_are_refused(
    server: MoorageServer, tmp_path: Path, name: str
) -> None:
    files = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
    }
    done = _moorage(
        "credentials", "--data-dir", str(server.data_dir), "--write-profile", name, env=files
    )
    assert done.returncode == 1
    assert "profile name" in done.stderr
    assert not (tmp_path / "credentials").exists()


def test_a_new_data_dir_gets_a_private_key_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    first = _moorage("credentials", "--data-dir", str(data_dir))
    assert first.returncode == 0
    assert (data_dir / "credentials").stat().st_mode & 0o777 == 0o600
    assert _moorage("credentials", "--data-dir", str(data_dir)).stdout == first.stdout
