"""Raw HTTP requests, for inputs boto3 would refuse to send."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


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
) -> RawReply:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return RawReply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


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
