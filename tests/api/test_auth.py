"""Without the server's key nothing happens on its port: SigV4 through real boto3 clients.

Every service on the port (SageMaker, SageMaker Runtime incl. response
streams, CloudWatch in its JSON, CBOR and query protocols) refuses an
unknown key, a wrong secret, a tampered body, an expired date and a missing
or malformed signature with AWS's codes, and a refused request changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from support.cloudwatch import cbor_call, protocol_client, query_call
from support.names import unique
from support.raw import RawReply, request, sagemaker_call, signed_headers
from support.server import MoorageServer

CLOUDWATCH_PROTOCOLS = ("json", "smithy-rpc-v2-cbor", "query")


def _client(server: MoorageServer, service: str, **keys: str) -> Any:
    found = {**server.credentials, **keys}
    return boto3.client(
        service,
        endpoint_url=server.url,
        config=Config(retries={"max_attempts": 1}),
        **found,
    )


def _code(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return (
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Code"],
        error["Error"].get("Message", ""),
    )


def _signed_at(
    server: MoorageServer, moment: dt.datetime, body: bytes, target: str
) -> dict[str, str]:
    """Headers of a SageMaker JSON request signed as if at ``moment``."""
    keys = server.credentials
    url = server.url
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    aws = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    aws.headers["Host"] = url.split("://")[1]
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    aws.headers["X-Amz-Date"] = stamp
    aws.context["timestamp"] = stamp
    signer = SigV4Auth(
        Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"]),
        "sagemaker",
        keys["region_name"],
    )
    canonical = signer.canonical_request(aws)
    signature = signer.signature(signer.string_to_sign(aws, canonical), aws)
    aws.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(aws)}, "
        f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(aws))}, "
        f"Signature={signature}"
    )
    return dict(aws.headers.items())


# --- the right key ------------------------------------------------------------------------------


def test_the_servers_key_is_accepted_by_every_service(server: MoorageServer) -> None:
    assert "Models" in server.sagemaker.list_models()
    runtime = server.client("sagemaker-runtime")
    # Past the signature check: the endpoint does not exist.
    status, code, message = _code(
        lambda: runtime.invoke_endpoint(EndpointName="auth-nowhere", Body=b"{}")
    )
    assert (status, code) == (400, "ValidationError")
    assert "auth-nowhere" in message
    for protocol in CLOUDWATCH_PROTOCOLS:
        client = protocol_client(server.url, server.data_dir.parent / "models", protocol)
        assert "MetricAlarms" in client.describe_alarms(AlarmNamePrefix="auth-none-such")


def test_the_key_file_is_private_and_shaped_like_aws_credentials(server: MoorageServer) -> None:
    path = server.data_dir / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = server.credentials
    assert len(keys["aws_access_key_id"]) == 20
    assert len(keys["aws_secret_access_key"]) == 40


# --- unknown key, wrong secret ------------------------------------------------------------------


def test_an_unknown_key_is_unrecognized(server: MoorageServer) -> None:
    stranger = {"aws_access_key_id": "AKIASTRANGER00000000", "aws_secret_access_key": "x" * 40}
    sagemaker = _client(server, "sagemaker", **stranger)
    assert _code(sagemaker.list_models) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    runtime = _client(server, "sagemaker-runtime", **stranger)
    status, code, _ = _code(lambda: runtime.invoke_endpoint(EndpointName="e", Body=b"{}"))
    assert (status, code) == (403, "UnrecognizedClientException")
    status, code, _ = _code(
        lambda: runtime.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
    )
    assert (status, code) == (403, "UnrecognizedClientException")


def test_a_wrong_secret_is_an_invalid_signature(server: MoorageServer) -> None:
    wrong = {"aws_secret_access_key": "y" * 40}
    status, code, message = _code(_client(server, "sagemaker", **wrong).list_models)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match")
    runtime = _client(server, "sagemaker-runtime", **wrong)
    status, code, _ = _code(
        lambda: runtime.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
    )
    assert (status, code) == (403, "InvalidSignatureException")


@pytest.mark.parametrize("protocol", CLOUDWATCH_PROTOCOLS)
def test_cloudwatch_refuses_with_its_query_codes_in_every_protocol(
    server: MoorageServer, protocol: str, tmp_path: Path
) -> None:
    url = server.url
    good = protocol_client(url, tmp_path / "models", protocol)
    name = unique("auth-alarm")
    good.put_metric_alarm(
        AlarmName=name,
        MetricName="Invocations",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    secret = server.credentials["aws_secret_access_key"]
    for keys, expected in (
        ({"aws_access_key_id": "AKIASTRANGER00000000"}, "InvalidClientTokenId"),
        ({"aws_secret_access_key": secret[::-1]}, "SignatureDoesNotMatch"),
    ):
        session = botocore.session.Session()
        # Same protocol as `good`: the botocore models written for it.
        session.set_config_variable("data_path", str(tmp_path / "models"))
        bad = session.create_client(
            "cloudwatch",
            endpoint_url=url,
            config=Config(retries={"total_max_attempts": 1}),
            **{**server.credentials, **keys},
        )
        assert bad.meta.service_model.resolved_protocol == protocol
        status, code, _ = _code(
            lambda client=bad: client.set_alarm_state(
                AlarmName=name, StateValue="ALARM", StateReason="forged"
            )
        )
        assert (status, code) == (403, expected)
    [alarm] = good.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] != "ALARM"
    good.delete_alarms(AlarmNames=[name])


# --- no signature, malformed, tampered, expired -------------------------------------------------


def test_an_unsigned_request_is_missing_its_token(server: MoorageServer) -> None:
    unsigned = boto3.client(
        "sagemaker",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}),
    )
    assert _code(unsigned.list_models)[:2] == (403, "MissingAuthenticationTokenException")
    cbor = cbor_call(server.url, "DescribeAlarms", {}, sign=False)
    assert cbor.status == 403
    assert cbor.headers["x-amzn-query-error"].startswith("MissingAuthenticationToken;")
    form = query_call(server.url, "DescribeAlarms", {}, sign=False)
    assert form.status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in form.body
    runtime = request(server.url, path="/endpoints/e/invocations", body=b"{}", sign=False)
    assert runtime.status == 403
    assert runtime.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=00",
        "garbage",
    ],
)
def test_a_malformed_authorization_is_an_incomplete_signature(
    server: MoorageServer, authorization: str
) -> None:
    reply = request(
        server.url,
        body=b"{}",
        headers={
            "X-Amz-Target": "SageMaker.ListModels",
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
            "Authorization": authorization,
        },
        sign=False,
    )
    assert reply.status == 403
    assert reply.json()["__type"] == "IncompleteSignatureException"


def test_a_tampered_body_or_header_is_refused_and_changes_nothing(server: MoorageServer) -> None:
    name = unique("tampered")
    body = json.dumps({"ModelName": name, "PrimaryContainer": {"Image": "img"}}).encode()
    headers = {
        "X-Amz-Target": "SageMaker.CreateModel",
        "Content-Type": "application/x-amz-json-1.1",
    }
    signed = signed_headers(server.url, "POST", "/", body, headers)
    forged = body.replace(b'"img"', b'"evil"')
    reply = request(server.url, body=forged, headers=signed, sign=False)
    assert reply.status == 403
    assert reply.json()["__type"] == "InvalidSignatureException"
    other_target = {**signed, "X-Amz-Target": "SageMaker.DeleteModel"}
    assert request(server.url, body=body, headers=other_target, sign=False).status == 403
    status, code, _ = _code(lambda: server.sagemaker.describe_model(ModelName=name))
    assert (status, code) == (400, "ValidationException")
    # The untouched request goes through.
    assert request(server.url, body=body, headers=signed, sign=False).status == 200
    server.sagemaker.delete_model(ModelName=name)


@pytest.mark.parametrize("minutes", [-10, 10])
def test_a_request_time_more_than_five_minutes_off_is_refused(
    server: MoorageServer, minutes: int
) -> None:
    body = b"{}"
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    headers = _signed_at(server, moment, body, "SageMaker.ListModels")
    reply = request(server.url, body=body, headers=headers, sign=False)
    assert reply.status == 403
    error = reply.json()
    assert error["__type"] == "InvalidSignatureException"
    expected = "Signature expired" if minutes < 0 else "Signature not yet current"
    assert error["message"].startswith(expected)
    two_minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    near = _signed_at(server, two_minutes_ago, body, "SageMaker.ListModels")
    assert request(server.url, body=body, headers=near, sign=False).status == 200


def test_a_key_scoped_to_another_region_is_refused(server: MoorageServer) -> None:
    elsewhere = _client(server, "sagemaker", region_name="eu-west-1")
    status, code, message = _code(elsewhere.list_models)
    assert (status, code) == (403, "InvalidSignatureException")
    assert "eu-west-1" in message and "us-east-1" in message


def test_healthz_and_metrics_need_no_key_and_everything_else_does(server: MoorageServer) -> None:
    assert request(server.url, "GET", "/healthz", sign=False).status == 200
    assert request(server.url, "GET", "/metrics", sign=False).status == 200
    assert request(server.url, "GET", "/moorage/placement/x", sign=False).status == 403
    assert request(server.url, "GET", "/nowhere", sign=False).status == 403


def _raw_sagemaker(url: str, operation: str, payload: Any) -> RawReply:
    return sagemaker_call(url, operation, payload)


def test_private_metrics_asks_for_a_key(tmp_path: Path) -> None:
    server = MoorageServer(tmp_path / "data", extra_args=("--private-metrics",)).start()
    try:
        assert request(server.url, "GET", "/metrics", sign=False).status == 403
        assert request(server.url, "GET", "/metrics").status == 200
        assert request(server.url, "GET", "/healthz", sign=False).status == 200
        assert _raw_sagemaker(server.url, "ListModels", {}).status == 200
    finally:
        server.stop()
