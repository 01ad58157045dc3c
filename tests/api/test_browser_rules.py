"""Web pages cannot drive moorage, whatever the auth mode; and the serve options around it.

A foreign ``Host`` (DNS rebinding), a foreign ``Origin`` and a cross-site
form POST are refused with 403 and change nothing, with and without
``--auth none``; ``--auth none`` is refused off loopback; ``--credentials``
accepts every section's key; HTTPS serves with ``--tls-cert/--tls-key``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.names import unique
from support.raw import request, signed_headers
from support.server import BIN, MoorageServer

JSON_TYPE = "application/x-amz-json-1.1"
JSON_HEADERS = {"X-Amz-Target": "SageMaker.CreateModel", "Content-Type": JSON_TYPE}
LIST_MODELS = {"X-Amz-Target": "SageMaker.ListModels", "Content-Type": JSON_TYPE}


def _create_model_body(name: str) -> bytes:
    return json.dumps({"ModelName": name, "PrimaryContainer": {"Image": "img"}}).encode()


def _exists(server: MoorageServer, name: str) -> bool:
    try:
        server.sagemaker.describe_model(ModelName=name)
    except ClientError:
        return False
    return True


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server with ``--auth none``: only the browser rules stand between a page and it."""
    server = MoorageServer(
        tmp_path_factory.mktemp("auth-none"), extra_args=("--auth", "none")
    ).start()
    yield server
    server.stop()


def test_auth_none_accepts_unsigned_requests_and_warns(open_server: MoorageServer) -> None:
    unsigned = boto3.client(
        "sagemaker",
        endpoint_url=open_server.url,
        region_name="us-east-1",
        config=Config(signature_version=botocore.UNSIGNED),
    )
    assert "Models" in unsigned.list_models()
    any_key = boto3.client(
        "sagemaker",
        endpoint_url=open_server.url,
        region_name="eu-west-1",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
    )
    assert "Models" in any_key.list_models()
    assert any("--auth none" in line and "warning" in line for line in open_server.output)


@pytest.mark.parametrize("mode", ["sigv4", "none"])
def test_a_foreign_host_is_refused_and_changes_nothing(
    server: MoorageServer, open_server: MoorageServer, mode: str
) -> None:
    target = server if mode == "sigv4" else open_server
    name = unique("rebound")
    body = _create_model_body(name)
    port = target.url.rsplit(":", 1)[1]
    headers = {**JSON_HEADERS, "Host": f"attacker.example:{port}"}
    if mode == "sigv4":
        headers = signed_headers(target.url, "POST", "/", body, headers)
    reply = request(target.url, body=body, headers=headers, sign=False)
    assert reply.status == 403
    assert reply.json()["__type"] == "AccessDenied"
    assert "attacker.example" in reply.json()["message"]
    assert not _exists(target, name)
    # Names that are not a rebinding risk are served: localhost and address literals.
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        headers = {**LIST_MODELS, "Host": host}
        if mode == "sigv4":
            headers = signed_headers(target.url, "POST", "/", b"{}", headers)
        reply = request(target.url, body=b"{}", headers=headers, sign=False)
        assert reply.status == 200, (host, reply.body)


@pytest.mark.parametrize("mode", ["sigv4", "none"])
def test_a_foreign_origin_is_refused_and_changes_nothing(
    server: MoorageServer, open_server: MoorageServer, mode: str
) -> None:
    target = server if mode == "sigv4" else open_server
    name = unique("cross-origin")
    body = _create_model_body(name)
    for extra in ({"Origin": "https://attacker.example"}, {"Sec-Fetch-Site": "cross-site"}):
        headers = {**JSON_HEADERS, **extra}
        reply = request(target.url, body=body, headers=headers, sign=mode == "sigv4")
        assert reply.status == 403
        assert reply.json()["__type"] == "AccessDenied"
    assert not _exists(target, name)


def test_a_cross_site_form_post_cannot_set_an_alarm_state(open_server: MoorageServer) -> None:
    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=open_server.url,
        region_name="us-east-1",
        config=Config(signature_version=botocore.UNSIGNED),
    )
    name = unique("form-alarm")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="Invocations",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="missing",
    )
    # What a browser sends for <form method=post action=http://127.0.0.1:PORT/>.
    form = urllib.parse.urlencode(
        {
            "Action": "SetAlarmState",
            "Version": "2010-08-01",
            "AlarmName": name,
            "StateValue": "ALARM",
            "StateReason": "forged",
        }
    ).encode()
    reply = request(
        open_server.url,
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "null",
            "Sec-Fetch-Site": "cross-site",
        },
        sign=False,
    )
    assert reply.status == 403
    assert b"<Code>AccessDenied</Code>" in reply.body
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] != "ALARM"
    assert alarm["StateReason"] != "forged"


def test_the_servers_own_origin_and_allowed_ones_are_served(tmp_path: Path) -> None:
    server = MoorageServer(
        tmp_path / "data",
        extra_args=("--allowed-origin", "https://notebook.example:8888", "--allowed-host", "box"),
    ).start()
    try:
        port = server.url.rsplit(":", 1)[1]
        for extra in (
            {"Origin": "https://notebook.example:8888"},
            {"Origin": f"http://127.0.0.1:{port}"},
            {"Host": f"box:{port}"},
        ):
            reply = request(server.url, body=b"{}", headers={**LIST_MODELS, **extra})
            assert reply.status == 200, (extra, reply.body)
        reply = request(
            server.url, body=b"{}", headers={**LIST_MODELS, "Origin": "https://other.example"}
        )
        assert reply.status == 403
    finally:
        server.stop()


# --- serve options ------------------------------------------------------------------------------


def test_auth_none_off_loopback_is_refused_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(BIN / "moorage"),
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--auth",
            "none",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--auth none is refused on 0.0.0.0" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_credentials_file_accepts_every_sections_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(
        "[alice]\naws_access_key_id = AKIAALICE0000000000A\naws_secret_access_key = alice-secret\n"
        "[bob]\naws_access_key_id = AKIABOB00000000000000\naws_secret_access_key = bob-secret\n"
        "[no-keys]\nregion = us-east-1\n"
    )
    server = MoorageServer(tmp_path / "data", extra_args=("--credentials", str(keys))).start()
    try:
        for key_id, secret in (
            ("AKIAALICE0000000000A", "alice-secret"),
            ("AKIABOB00000000000000", "bob-secret"),
        ):
            client = boto3.client(
                "sagemaker",
                endpoint_url=server.url,
                region_name="us-east-1",
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
            )
            assert "Models" in client.list_models()
        assert not (tmp_path / "data" / "credentials").exists()
    finally:
        server.stop()


def test_an_unusable_credentials_file_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("[default]\nregion = us-east-1\n")
    done = subprocess.run(
        [
            str(BIN / "moorage"),
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
            "--credentials",
            str(empty),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no section with both aws_access_key_id and aws_secret_access_key" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("workers", [(), ("--workers", "1")], ids=["one-process", "a-router"])
def test_https_with_a_certificate(tmp_path: Path, workers: tuple[str, ...]) -> None:
    cert, key = _self_signed(tmp_path)
    server = MoorageServer(
        tmp_path / "data", extra_args=("--tls-cert", str(cert), "--tls-key", str(key), *workers)
    ).start()
    try:
        assert server.url.startswith("https://")
        client = boto3.client(
            "sagemaker", endpoint_url=server.url, verify=str(cert), **server.credentials
        )
        assert "Models" in client.list_models()
        # A kept-alive connection would hold the server's stop for its grace period.
        client.close()
        assert request(server.url, "GET", "/healthz", sign=False).status == 200
        # The dashboard's session cookie is for HTTPS only, whichever process answers.
        keys = server.credentials
        form = urllib.parse.urlencode(
            {
                "access_key_id": keys["aws_access_key_id"],
                "secret_access_key": keys["aws_secret_access_key"],
            }
        ).encode()
        login = request(
            server.url,
            "POST",
            "/ui/login",
            form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            sign=False,
        )
        assert "; Secure" in login.headers["set-cookie"]
    finally:
        server.stop()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made with cryptography (a dependency of moto)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key
