"""Fixtures for the codec tests: CloudWatch models per protocol, in-process clients.

A real botocore client is pointed at a fake transport (a ``before-send``
hook) that decodes the request with moorage's codec, runs a test handler and
encodes the answer, so botocore's whole pipeline (serializer, parser, error
factory) runs with no server and no socket.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.model import ServiceModel

from moorage.api import cbor_codec, query_codec, xml_output
from moorage.api.query_compat import resolve_error
from moorage.errors import ServiceError

Handler = Callable[[str, dict[str, Any]], dict[str, Any] | None]


class RawBody:
    """The ``raw`` of an AWSResponse: what botocore streams the body from."""

    def __init__(self, body: bytes, chunk: int = 7) -> None:
        self.body = body
        self.chunk = chunk

    def stream(self, **_: Any) -> Iterator[bytes]:
        # Small chunks, so that readers cope with messages split anywhere.
        for start in range(0, len(self.body), self.chunk):
            yield self.body[start : start + self.chunk]

    def close(self) -> None:
        pass


def cloudwatch_dict() -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    return copy.deepcopy(loader.load_service_model("cloudwatch", "service-2"))


def cloudwatch_model(protocol: str) -> ServiceModel:
    """CloudWatch's model as a client of one protocol sees it."""
    raw = cloudwatch_dict()
    raw["metadata"]["protocol"] = protocol
    raw["metadata"]["protocols"] = [protocol]
    return ServiceModel(raw, "cloudwatch")


@pytest.fixture(scope="session")
def cbor_model() -> ServiceModel:
    return cloudwatch_model("smithy-rpc-v2-cbor")


@pytest.fixture(scope="session")
def query_model() -> ServiceModel:
    return cloudwatch_model("query")


@pytest.fixture(scope="session")
def synthetic_model() -> ServiceModel:
    """A small query service with the traits CloudWatch does not use."""
    return ServiceModel(
        {
            "metadata": {
                "apiVersion": "2020-01-01",
                "protocol": "query",
                "endpointPrefix": "synthetic",
                "serviceId": "Synthetic",
                "xmlNamespace": "http://synthetic.test/doc/2020-01-01/",
            },
            "operations": {
                "Put": {
                    "name": "Put",
                    "http": {"method": "POST", "requestUri": "/"},
                    "input": {"shape": "PutInput"},
                    "output": {"shape": "PutOutput", "resultWrapper": "PutResult"},
                }
            },
            "shapes": {
                "PutInput": {
                    "type": "structure",
                    "members": {
                        "Attributes": {"shape": "AttributeMap"},
                        "Flat": {"shape": "FlatMap"},
                        "Names": {"shape": "FlatNames"},
                        "Renamed": {"shape": "String", "locationName": "NewName"},
                        "Items": {"shape": "NamedList"},
                        "Payload": {"shape": "Blob"},
                        "When": {"shape": "Timestamp"},
                    },
                },
                "PutOutput": {
                    "type": "structure",
                    "members": {
                        "Attributes": {"shape": "AttributeMap"},
                        "Flat": {"shape": "FlatMap"},
                        "Names": {"shape": "FlatNames"},
                        "Renamed": {"shape": "String", "locationName": "NewName"},
                        "Items": {"shape": "NamedList"},
                        "Payload": {"shape": "Blob"},
                        "When": {"shape": "Timestamp"},
                        "Epoch": {"shape": "EpochTimestamp"},
                        "Ok": {"shape": "Boolean"},
                    },
                },
                "AttributeMap": {
                    "type": "map",
                    "key": {"shape": "String", "locationName": "Name"},
                    "value": {"shape": "Integer", "locationName": "Value"},
                },
                "FlatMap": {
                    "type": "map",
                    "key": {"shape": "String"},
                    "value": {"shape": "String"},
                    "flattened": True,
                },
                "FlatNames": {
                    "type": "list",
                    "member": {"shape": "String", "locationName": "Name"},
                    "flattened": True,
                },
                "NamedList": {
                    "type": "list",
                    "member": {"shape": "String", "locationName": "Item"},
                },
                "String": {"type": "string"},
                "Integer": {"type": "integer"},
                "Boolean": {"type": "boolean"},
                "Blob": {"type": "blob"},
                "Timestamp": {"type": "timestamp"},
                "EpochTimestamp": {"type": "timestamp", "timestampFormat": "unixTimestamp"},
            },
        },
        "synthetic",
    )


class Transport:
    """Answers a client's requests in-process with moorage's codecs."""

    def __init__(self, protocol: str, model: ServiceModel) -> None:
        self.protocol = protocol
        self.model = model
        self.handler: Handler = lambda op, params: {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        try:
            if self.protocol == "query":
                op_model, params = query_codec.decode_query(self.model, body)
            else:
                op_name = request.url.rsplit("/", 1)[-1]
                op_model = self.model.operation_model(op_name)
                params = cbor_codec.decode_request(op_model, body)
            self.calls.append((op_model.name, params))
            result = self.handler(op_model.name, params)
        except ServiceError as exc:
            return self._error(request.url, exc)
        if self.protocol == "query":
            out = xml_output.encode_query_response(op_model, result, request_id="rid-1")
            headers = {"Content-Type": xml_output.CONTENT_TYPE, "x-amzn-RequestId": "rid-1"}
        else:
            out, headers = cbor_codec.encode_response(op_model, result)
        return AWSResponse(request.url, 200, headers, RawBody(out))

    def _error(self, url: str, exc: ServiceError) -> AWSResponse:
        status = resolve_error(self.model, exc.code, exc.status).status
        if self.protocol == "query":
            body = xml_output.encode_query_error(
                exc.code, exc.message, status, "rid-2", service_model=self.model
            )
            headers = {"Content-Type": xml_output.CONTENT_TYPE}
        else:
            body, headers = cbor_codec.encode_error(
                exc.code, exc.message, status, service_model=self.model
            )
        return AWSResponse(url, status, headers, RawBody(body))


def make_client(tmp_path: Path, protocol: str) -> tuple[Any, Transport]:
    """A botocore CloudWatch client that speaks ``protocol``, and its transport."""
    raw = cloudwatch_dict()
    raw["metadata"]["protocol"] = protocol
    raw["metadata"]["protocols"] = [protocol]
    model_dir = tmp_path / "models" / "cloudwatch" / "2010-08-01"
    model_dir.mkdir(parents=True)
    (model_dir / "service-2.json").write_text(json.dumps(raw))
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(tmp_path / "models"))
    client = session.create_client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url="http://moorage.test",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert client.meta.service_model.resolved_protocol == protocol
    transport = Transport(protocol, client.meta.service_model)
    client.meta.events.register("before-send.cloudwatch", transport)
    return client, transport


@pytest.fixture
def cbor_client(tmp_path: Path) -> tuple[Any, Transport]:
    return make_client(tmp_path, "smithy-rpc-v2-cbor")


@pytest.fixture
def query_client(tmp_path: Path) -> tuple[Any, Transport]:
    return make_client(tmp_path, "query")


T0 = 1_700_000_000.0


@pytest.fixture
def requests() -> dict[str, dict[str, Any]]:
    """Inputs as a caller gives them to botocore (timestamps as datetimes)."""
    start = dt.datetime.fromtimestamp(T0, tz=dt.UTC)
    return {
        "PutMetricAlarm": {
            "AlarmName": "ep-latency",
            "AlarmDescription": "p99 < 'x' & <y>",
            "ActionsEnabled": True,
            "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:a", "arn:b"],
            "MetricName": "ModelLatency",
            "Namespace": "AWS/SageMaker",
            "Statistic": "Average",
            "Dimensions": [
                {"Name": "EndpointName", "Value": "ep"},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": 250000.5,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "Tags": [{"Key": "team", "Value": "ml"}],
        },
        "PutMetricData": {
            "Namespace": "moorage/test",
            "MetricData": [
                {
                    "MetricName": "Invocations",
                    "Dimensions": [{"Name": "EndpointName", "Value": "ep"}],
                    "Timestamp": start + dt.timedelta(microseconds=250_000),
                    "Values": [1.0, 2.5, -3.0],
                    "Counts": [10.0, 1.0, 2.0],
                    "Unit": "Count",
                    "StorageResolution": 1,
                },
                {
                    "MetricName": "Latency",
                    "Timestamp": start,
                    "StatisticValues": {
                        "SampleCount": 4.0,
                        "Sum": 10.0,
                        "Minimum": 1.0,
                        "Maximum": 4.0,
                    },
                    "Unit": "Milliseconds",
                },
            ],
        },
        "GetMetricData": {
            "MetricDataQueries": [
                {
                    "Id": "m1",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/SageMaker",
                            "MetricName": "Invocations",
                            "Dimensions": [{"Name": "EndpointName", "Value": "ep"}],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": False,
                },
                {"Id": "e1", "Expression": "m1 * 2", "Label": "double"},
            ],
            "StartTime": start,
            "EndTime": start + dt.timedelta(hours=1),
            "ScanBy": "TimestampAscending",
            "MaxDatapoints": 500,
        },
        "DescribeAlarms": {"AlarmNames": ["a", "b", "c"], "MaxRecords": 10},
    }


def expected_params(params: Any) -> Any:
    """What a decoder must yield: the same, with datetimes as epoch seconds."""
    if isinstance(params, dict):
        return {key: expected_params(value) for key, value in params.items()}
    if isinstance(params, list):
        return [expected_params(item) for item in params]
    if isinstance(params, dt.datetime):
        return params.timestamp()
    return params


@pytest.fixture
def decoded() -> Callable[[Any], Any]:
    return expected_params


@pytest.fixture
def results() -> dict[str, dict[str, Any]]:
    """Handler answers, with timestamps in both accepted forms."""
    updated = dt.datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=dt.UTC)
    return {
        "DescribeAlarms": {
            "MetricAlarms": [
                {
                    "AlarmName": "ep-latency",
                    "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ep-latency",
                    "AlarmDescription": "a < b & \"c\" 'd'",
                    "AlarmConfigurationUpdatedTimestamp": updated,
                    "ActionsEnabled": True,
                    "OKActions": [],
                    "AlarmActions": ["arn:b"],
                    "StateValue": "ALARM",
                    "StateReason": "Threshold Crossed",
                    "StateUpdatedTimestamp": T0 + 0.5,
                    "MetricName": "ModelLatency",
                    "Namespace": "AWS/SageMaker",
                    "Statistic": "Average",
                    "Dimensions": [{"Name": "EndpointName", "Value": "ep"}],
                    "Period": 60,
                    "EvaluationPeriods": 3,
                    "Threshold": 250000.5,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "StateTransitionedTimestamp": T0,
                    "Unit": None,
                }
            ],
            "CompositeAlarms": [],
            "NextToken": None,
        },
        "GetMetricData": {
            "MetricDataResults": [
                {
                    "Id": "m1",
                    "Label": "Invocations",
                    "Timestamps": [T0, T0 + 60, updated],
                    "Values": [1.0, 2.5, 3],
                    "StatusCode": "Complete",
                }
            ],
            "Messages": [],
        },
        "DescribeAlarmHistory": {
            "AlarmHistoryItems": [
                {
                    "AlarmName": "ep-latency",
                    "AlarmType": "MetricAlarm",
                    "Timestamp": updated,
                    "HistoryItemType": "StateUpdate",
                    "HistorySummary": "Alarm updated from OK to ALARM",
                    "HistoryData": '{"version":"1.0","oldState":{"stateValue":"OK"}}',
                }
            ]
        },
    }


def plain(value: Any) -> Any:
    """A dict for comparison: ``None`` dropped, datetimes as epoch seconds.

    Applied to a handler's answer and to botocore's parse of it alike, so
    that float and datetime timestamps compare by instant.
    """
    if isinstance(value, dict):
        return {
            key: plain(item)
            for key, item in value.items()
            if item is not None and key != "ResponseMetadata"
        }
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    return value


@pytest.fixture
def same() -> Callable[[Any], Any]:
    return plain
