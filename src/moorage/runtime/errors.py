"""SageMaker Runtime errors in the rest-json form boto3 parses.

The error code travels in ``x-amzn-ErrorType`` and the body's ``__type``;
``ModelError`` also carries ``OriginalStatusCode``, ``OriginalMessage`` and
``LogStreamArn`` as SageMaker sends them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RuntimeError_(Exception):
    code: str
    message: str
    status: int = 400
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        payload: dict[str, Any] = {"__type": self.code, "message": self.message, **self.extra}
        return json.dumps(payload).encode()


def validation_error(message: str) -> RuntimeError_:
    return RuntimeError_("ValidationError", message, 400)


def endpoint_not_found(name: str, account: str) -> RuntimeError_:
    return validation_error(f"Endpoint {name} of account {account} not found.")


def model_error(*, variant: str, status: int, message: str, log_stream_arn: str) -> RuntimeError_:
    kind = "client" if 400 <= status < 500 else "server"
    text = (
        f'Received {kind} error ({status}) from {variant} with message "{message}". '
        f"See {log_stream_arn} for more information."
    )
    return RuntimeError_(
        "ModelError",
        text,
        424,
        {
            "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
            "Message": text,
            "OriginalStatusCode": status,
            "OriginalMessage": message,
            "LogStreamArn": log_stream_arn,
        },
    )


def broken_answer(*, variant: str, reason: str, log_stream_arn: str) -> RuntimeError_:
    """The copy took the request, then its answer broke off (or was not HTTP).

    A ``ModelError`` whose ``OriginalStatusCode`` is 0: no whole answer, so
    no status, arrived (SageMaker reports a container that never answered
    with status 0 too).
    """
    return model_error(
        variant=variant,
        status=0,
        message=f"The model container gave no complete answer: {reason}",
        log_stream_arn=log_stream_arn,
    )


def model_timeout(variant: str, seconds: float) -> RuntimeError_:
    text = f"Model {variant} did not respond within {seconds:g} seconds."
    return RuntimeError_("ModelError", text, 424, {"ErrorCode": "MODEL_TIMEOUT", "Message": text})


def service_unavailable(message: str) -> RuntimeError_:
    return RuntimeError_("ServiceUnavailable", message, 503)


def throttled(message: str) -> RuntimeError_:
    """Too many requests at once for what serves them (a serverless MaxConcurrency)."""
    return RuntimeError_("ThrottlingException", message, 429)
