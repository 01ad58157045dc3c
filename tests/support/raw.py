"""Raw HTTP requests, for inputs boto3 would refuse to send.

Requests are signed with SigV4 (botocore's signer) with the key of the
server at ``url`` (:func:`support.server.credentials_for`) unless
``sign=False``; ``signer_service`` names the service in the credential
scope, as boto3 would (``monitoring`` for CloudWatch).
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    method: str = "POST",
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    *,
    sign: bool = True,
    signer_service: str = "sagemaker",
) -> RawReply:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    all_headers = dict(headers or {})
    if sign:
        all_headers = signed_headers(url, method, path, body, all_headers, signer_service)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return RawReply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def signed_headers(
    url: str,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    service: str = "sagemaker",
    *,
    keys: dict[str, str] | None = None,
) -> dict[str, str]:
    """``headers`` plus Host, X-Amz-Date and Authorization for this request."""
    from support.server import credentials_for

    found = keys or credentials_for(url)
    parts = urlsplit(url)
    request = AWSRequest(
        method=method, url=f"{parts.scheme}://{parts.netloc}{path}", data=body, headers=headers
    )
    if not any(name.lower() == "host" for name in headers):
        request.headers["Host"] = parts.netloc
    credentials = Credentials(found["aws_access_key_id"], found["aws_secret_access_key"])
    SigV4Auth(credentials, service, found["region_name"]).add_auth(request)
    return dict(request.headers.items())


def sagemaker_call(url: str, operation: str, payload: Any) -> RawReply:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request(
        url,
        body=body,
        headers={
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
