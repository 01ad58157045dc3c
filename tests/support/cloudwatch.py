"""CloudWatch clients for each protocol moorage serves, and raw CBOR/query calls.

boto3 1.44's ``cloudwatch`` client speaks JSON 1.0; :func:`protocol_client`
builds a botocore client whose loaded model is forced to another protocol
(``smithy-rpc-v2-cbor`` or ``query``, as older botocore releases send), so
botocore's own serializer and parser run against the real server.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from pathlib import Path
from typing import Any

import botocore.session
import cbor2
from botocore.config import Config

from support.raw import RawReply, request
from support.server import credentials_for

TARGET = "GraniteServiceVersion20100801"
VERSION = "2010-08-01"


def protocol_client(url: str, models_dir: Path, protocol: str) -> Any:
    """A botocore CloudWatch client for ``url`` that speaks ``protocol``."""
    loader = botocore.session.get_session().get_component("data_loader")
    raw = copy.deepcopy(loader.load_service_model("cloudwatch", "service-2"))
    raw["metadata"]["protocol"] = protocol
    raw["metadata"]["protocols"] = [protocol]
    model_dir = models_dir / "cloudwatch" / VERSION
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "service-2.json").write_text(json.dumps(raw))
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(models_dir))
    client = session.create_client(
        "cloudwatch",
        endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1}),
        **credentials_for(url),
    )
    assert client.meta.service_model.resolved_protocol == protocol
    return client


def cbor_call(
    url: str,
    operation: str,
    params: Any,
    *,
    raw_body: bytes | None = None,
    sign: bool = True,
) -> RawReply:
    body = raw_body if raw_body is not None else cbor2.dumps(params)
    return request(
        url,
        signer_service="monitoring",
        sign=sign,
        path=f"/service/{TARGET}/operation/{operation}",
        body=body,
        headers={
            "Content-Type": "application/cbor",
            "Accept": "application/cbor",
            "smithy-protocol": "rpc-v2-cbor",
        },
    )


def query_call(
    url: str, action: str | None, fields: dict[str, str], *, sign: bool = True
) -> RawReply:
    form = dict(fields)
    if action is not None:
        form = {"Action": action, "Version": VERSION, **form}
    return request(
        url,
        signer_service="monitoring",
        sign=sign,
        body=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


def json10_call(url: str, operation: str, body: bytes) -> RawReply:
    return request(
        url,
        signer_service="monitoring",
        body=body,
        headers={
            "X-Amz-Target": f"{TARGET}.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-query-mode": "true",
        },
    )
