"""A property-based fuzz of every served operation, from botocore's service models.

For each operation in the server's tables (SageMaker's and CloudWatch's
handler tables, and every SageMaker Runtime operation), hypothesis draws
inputs from the operation's input shape (:mod:`support.fuzz`) and sends them
through a real boto3 client with client-side validation off, so that wrong
types, missing members, surrogates, huge strings and non-finite numbers reach
the server as botocore serializes them. Raw requests add bodies no client
would serialize: broken JSON and CBOR, deep nesting, huge values. Every answer
must be a 4xx (or 501 / 503 ``ServiceUnavailable``) in AWS's error shape,
with no traceback; after each operation's run the server still answers
``/healthz``, and at the end its log holds no traceback.

The server is this module's own, on a data dir thrown away afterwards: the
fuzz creates records (a CreateModel can succeed) that no other test should
see. Runs are reproducible (``derandomize``) and bounded: about three thousand
cases in all.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moorage.api.cloudwatch_api import cloudwatch_handlers
from moorage.api.sagemaker_api import sagemaker_handlers
from moorage.api.service_models import CLOUDWATCH, SAGEMAKER, SAGEMAKER_RUNTIME, service_model
from support.cloudwatch import TARGET
from support.fuzz import cbor_bodies, check_reply, params_for, raw_json_bodies, served_operations
from support.raw import request
from support.server import MoorageServer, running

SAGEMAKER_OPERATIONS = served_operations(sagemaker_handlers)
CLOUDWATCH_OPERATIONS = served_operations(cloudwatch_handlers)
RUNTIME_OPERATIONS = tuple(sorted(service_model(SAGEMAKER_RUNTIME).operation_names))

_NO_ANSWER = (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError, ConnectionError)

_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    with running(tmp_path_factory.mktemp("fuzz-data")) as srv:
        yield srv


class _Caller:
    """A boto3 client that records the raw answer to each call."""

    def __init__(self, server: MoorageServer, service: str) -> None:
        self.client = server.client(
            service, parameter_validation=False, read_timeout=120, connect_timeout=30
        )
        self.answers: list[tuple[Any, Any]] = []
        # Calls that reached the server (botocore refuses to serialize some inputs).
        self.sent = 0
        self.client.meta.events.register("response-received.*", self._received)

    def _received(self, response_dict: Any, exception: Any, **_: Any) -> None:
        self.answers.append((response_dict, exception))

    def call(self, operation: str, params: dict[str, Any]) -> None:
        self.answers.clear()
        method = getattr(self.client, xform_name(operation))
        try:
            result = method(**params)
        except self.client.exceptions.ClientError:
            pass
        except Exception:
            # botocore may refuse to serialize a wrong type (nothing is sent):
            # only what the server answered is judged below.
            if not self.answers:
                return
        else:
            body = result.get("Body") or result.get("EventStream")
            if body is not None and hasattr(body, "close"):
                body.close()
        assert self.answers, f"{operation}: no answer recorded"
        answer, failure = self.answers[-1]
        if failure is not None:
            # Only a connection that failed is the server's doing; botocore
            # also reports a body it could not send (Body=False) this way.
            assert not isinstance(failure, _NO_ANSWER), (
                f"{operation} {params!r:.300}: the server gave no answer: {failure}"
            )
            return
        self.sent += 1
        check_reply(answer["status_code"], dict(answer["headers"]), answer["body"], operation)


@pytest.fixture(scope="module")
def callers(fuzz_server: MoorageServer) -> dict[str, _Caller]:
    return {
        service: _Caller(fuzz_server, service)
        for service in (SAGEMAKER, CLOUDWATCH, SAGEMAKER_RUNTIME)
    }


def _healthy(server: MoorageServer) -> None:
    reply = request(server.url, "GET", "/healthz", timeout=60)
    assert reply.status == 200, reply.body


def _fuzz(callers: dict[str, _Caller], service: str, operation: str, examples: int) -> None:
    caller = callers[service]
    strategy = params_for(service_model(service).operation_model(operation))
    caller.sent = 0

    @settings(max_examples=examples, **_SETTINGS)
    @given(strategy)
    def run(params: dict[str, Any]) -> None:
        caller.call(operation, params)

    run()
    # Most inputs must reach the server, or the fuzz tests botocore, not moorage.
    assert caller.sent >= examples // 3, f"{operation}: only {caller.sent} calls were sent"


@pytest.mark.parametrize("operation", SAGEMAKER_OPERATIONS)
def test_sagemaker_operation(
    fuzz_server: MoorageServer, callers: dict[str, _Caller], operation: str
) -> None:
    _fuzz(callers, SAGEMAKER, operation, 40)
    _healthy(fuzz_server)


@pytest.mark.parametrize("operation", CLOUDWATCH_OPERATIONS)
def test_cloudwatch_operation(
    fuzz_server: MoorageServer, callers: dict[str, _Caller], operation: str
) -> None:
    _fuzz(callers, CLOUDWATCH, operation, 80)
    _healthy(fuzz_server)


@pytest.mark.parametrize("operation", RUNTIME_OPERATIONS)
def test_runtime_operation(
    fuzz_server: MoorageServer, callers: dict[str, _Caller], operation: str
) -> None:
    _fuzz(callers, SAGEMAKER_RUNTIME, operation, 60)
    _healthy(fuzz_server)


_JSON_TARGETS = [("SageMaker", op, SAGEMAKER) for op in SAGEMAKER_OPERATIONS] + [
    (TARGET, op, CLOUDWATCH) for op in CLOUDWATCH_OPERATIONS
]


@pytest.mark.parametrize(("prefix", "operation", "service"), _JSON_TARGETS)
def test_raw_json_bodies(
    fuzz_server: MoorageServer, prefix: str, operation: str, service: str
) -> None:
    shape = service_model(service).operation_model(operation).input_shape
    content_type = (
        "application/x-amz-json-1.1" if prefix == "SageMaker" else "application/x-amz-json-1.0"
    )
    signer = "sagemaker" if service == SAGEMAKER else "monitoring"

    @settings(max_examples=12, **_SETTINGS)
    @given(raw_json_bodies(shape))
    def run(body: bytes) -> None:
        reply = request(
            fuzz_server.url,
            body=body,
            headers={"X-Amz-Target": f"{prefix}.{operation}", "Content-Type": content_type},
            signer_service=signer,
            timeout=120,
        )
        check_reply(reply.status, reply.headers, reply.body, f"raw {operation}")

    run()


@pytest.mark.parametrize("operation", CLOUDWATCH_OPERATIONS)
def test_raw_cbor_bodies(fuzz_server: MoorageServer, operation: str) -> None:
    @settings(max_examples=25, **_SETTINGS)
    @given(cbor_bodies())
    def run(body: bytes) -> None:
        reply = request(
            fuzz_server.url,
            path=f"/service/{TARGET}/operation/{operation}",
            body=body,
            headers={
                "Content-Type": "application/cbor",
                "Accept": "application/cbor",
                "smithy-protocol": "rpc-v2-cbor",
            },
            signer_service="monitoring",
            timeout=120,
        )
        check_reply(reply.status, reply.headers, reply.body, f"cbor {operation}")

    run()
    _healthy(fuzz_server)


@pytest.mark.parametrize("operation", CLOUDWATCH_OPERATIONS)
def test_query_forms(fuzz_server: MoorageServer, operation: str) -> None:
    shape = service_model(CLOUDWATCH).operation_model(operation).input_shape
    names = sorted(shape.members) if shape is not None else ["X"]
    keys = st.one_of(
        st.sampled_from(names),
        st.tuples(st.sampled_from(names), st.integers(1, 3)).map(lambda t: f"{t[0]}.member.{t[1]}"),
        st.sampled_from(["a" + ".b" * 40, "Dimensions.member.1.Name", "MetricData.member.1"]),
    )
    values = st.one_of(
        st.text(max_size=12),
        st.sampled_from(["nan", "NaN", "Infinity", "-inf", "1e300", "9" * 400, "true", ""]),
    )

    @settings(max_examples=25, **_SETTINGS)
    @given(st.dictionaries(keys, values, max_size=5))
    def run(fields: dict[str, str]) -> None:
        form = {"Action": operation, "Version": "2010-08-01", **fields}
        reply = request(
            fuzz_server.url,
            body=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            signer_service="monitoring",
            timeout=120,
        )
        check_reply(reply.status, reply.headers, reply.body, f"query {operation}")

    run()


def test_the_server_logged_no_traceback(fuzz_server: MoorageServer) -> None:
    # Last in the module: every fuzz above has run against this server.
    _healthy(fuzz_server)
    log = "".join(fuzz_server.output)
    assert "Traceback" not in log, log[-5000:]
