"""InvokeEndpointAsync: ``POST /endpoints/{name}/async-invocations``, answered 202.

The runtime's invocation handler (:mod:`moorage.runtime.invoke`) passes
this path here once it has found it is not a real-time invocation; the Gate
has checked the signature already, as for every request. The request is
read from its headers (``X-Amzn-SageMaker-InputLocation``, ``-Content-Type``,
``-Accept``, ``-Custom-Attributes``, ``-Inference-Id``,
``-S3OutputPathExtension``, ``-Filename``, ``-RequestTTLSeconds``,
``-InvocationTimeoutSeconds``) and, for an inline payload, its body, and
checked against botocore's input shape. Then the endpoint must exist, be in
service and be asynchronous; a local input must lie under the server's file
roots. Every refusal is a ``ValidationError`` (400) and stores nothing.

An accepted request is stored before the answer is sent
(:meth:`~moorage.async_inference.queue.AsyncQueue.accept`); a store that
cannot write answers 503 and nothing is queued. The answer carries the
``InferenceId`` (the caller's or a new UUID) in its JSON body and the
output and failure locations in ``X-Amzn-SageMaker-OutputLocation`` and
``X-Amzn-SageMaker-FailureLocation``, as botocore's model places them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from moorage.api.http import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    new_request_id,
    read_body,
)
from moorage.api.service_models import SAGEMAKER_RUNTIME, operation_model
from moorage.api.validate import validate
from moorage.async_inference.config import DEFAULT_TIMEOUT_S, DEFAULT_TTL_S, MAX_INLINE_BYTES
from moorage.async_inference.endpoints import AsyncEndpoints
from moorage.async_inference.payloads import PayloadError, parse_input, result_locations
from moorage.async_inference.queue import AsyncQueue
from moorage.async_inference.request import AsyncRequest
from moorage.clock import Clock
from moorage.errors import ServiceError
from moorage.file_roots import FileRoots, OutsideRoots
from moorage.runtime import errors
from moorage.runtime.errors import RuntimeError_
from moorage.runtime.invoke import SERVING_STATUSES

log = logging.getLogger(__name__)

# Header → member of InvokeEndpointAsync's input shape.
_HEADERS = {
    "x-amzn-sagemaker-content-type": "ContentType",
    "x-amzn-sagemaker-accept": "Accept",
    "x-amzn-sagemaker-custom-attributes": "CustomAttributes",
    "x-amzn-sagemaker-inference-id": "InferenceId",
    "x-amzn-sagemaker-inputlocation": "InputLocation",
    "x-amzn-sagemaker-s3outputpathextension": "S3OutputPathExtension",
    "x-amzn-sagemaker-filename": "Filename",
    "x-amzn-sagemaker-requestttlseconds": "RequestTTLSeconds",
    "x-amzn-sagemaker-invocationtimeoutseconds": "InvocationTimeoutSeconds",
}
_INTEGERS = {
    "RequestTTLSeconds": "requestTTLSeconds",
    "InvocationTimeoutSeconds": "invocationTimeoutSeconds",
}


class AsyncInvocations:
    """The ASGI handler of InvokeEndpointAsync."""

    def __init__(
        self,
        queue: AsyncQueue,
        endpoints: AsyncEndpoints,
        clock: Clock,
        *,
        account_id: str,
        file_roots: FileRoots,
        accepted: Callable[[str], None],
    ) -> None:
        self.queue = queue
        self.endpoints = endpoints
        self.clock = clock
        self.account_id = account_id
        self.file_roots = file_roots
        self.accepted = accepted
        self._shape = operation_model(SAGEMAKER_RUNTIME, "InvokeEndpointAsync").input_shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            name = scope["path"].split("/")[2]
            params = await self._read(name, scope, receive)
            request = self._accept(params)
        except RuntimeError_ as exc:
            await _send(send, exc.status, exc.body(), [(b"x-amzn-errortype", exc.code.encode())])
            return
        except ServiceError as exc:
            error = (
                errors.validation_error(exc.message)
                if exc.status < 500
                else RuntimeError_("ServiceUnavailable", exc.message, 503)
            )
            await _send(
                send, error.status, error.body(), [(b"x-amzn-errortype", error.code.encode())]
            )
            return
        except ClientDisconnected:
            return
        except Exception:
            log.exception("InvokeEndpointAsync failed unexpectedly")
            error = RuntimeError_("InternalFailure", "An internal error occurred.", 500)
            await _send(send, 500, error.body(), [(b"x-amzn-errortype", error.code.encode())])
            return
        body = json.dumps({"InferenceId": request.inference_id}).encode()
        await _send(
            send,
            202,
            body,
            [
                (b"x-amzn-sagemaker-outputlocation", request.output_location.encode()),
                (b"x-amzn-sagemaker-failurelocation", request.failure_location.encode()),
            ],
        )

    async def _read(self, name: str, scope: Scope, receive: Receive) -> dict[str, Any]:
        raw: dict[str, Any] = {"EndpointName": name}
        for key, value in scope["headers"]:
            member = _HEADERS.get(key.decode("latin-1").lower())
            if member is not None:
                raw[member] = value.decode("latin-1")
        for member, path in _INTEGERS.items():
            text = raw.get(member)
            if text is not None:
                try:
                    raw[member] = int(text.strip())
                except ValueError:
                    raise errors.validation_error(
                        f"1 validation error detected: Value '{text[:64]}' at '{path}' failed "
                        "to satisfy constraint: Member must be an integer"
                    ) from None
        try:
            body = await read_body(receive, MAX_INLINE_BYTES)
        except BodyTooLarge:
            raise errors.validation_error(
                f"The inline Body exceeds the maximum allowed size of {MAX_INLINE_BYTES} bytes; "
                "store larger payloads in Amazon S3 and pass their InputLocation."
            ) from None
        if body:
            raw["Body"] = body
        return validate(self._shape, raw)

    def _accept(self, params: dict[str, Any]) -> AsyncRequest:
        name = str(params["EndpointName"])
        location = params.get("InputLocation")
        body = params.get("Body")
        if location is not None and body is not None:
            raise errors.validation_error(
                "Body and InputLocation are mutually exclusive: provide exactly one of them."
            )
        if location is None and body is None:
            raise errors.validation_error(
                "Provide the request payload in Amazon S3 with InputLocation, or inline (up to "
                f"{MAX_INLINE_BYTES} bytes) as Body."
            )
        if location is not None:
            self._check_input(str(location))
        found = self.endpoints.get(name)
        if found is None:
            raise errors.endpoint_not_found(name, self.account_id)
        endpoint = found.endpoint
        if found.config is None:
            raise errors.validation_error(
                f"Endpoint {endpoint.name} of account {self.account_id} is not configured for "
                "asynchronous inference: its endpoint configuration has no AsyncInferenceConfig."
            )
        if endpoint.status.value not in SERVING_STATUSES:
            raise errors.validation_error(
                f"Endpoint {endpoint.name} of account {self.account_id} is not in service "
                f"(its status is {endpoint.status.value})."
            )
        config = found.config
        request_id = str(uuid.uuid4())
        try:
            places = result_locations(
                config.output_path,
                config.failure_path,
                request_id,
                extension=params.get("S3OutputPathExtension"),
                filename=params.get("Filename"),
            )
        except PayloadError as exc:
            raise errors.validation_error(
                f"The endpoint's output path is not usable: {exc}"
            ) from None
        now = self.clock.now()
        request = AsyncRequest(
            request_id=request_id,
            seq=self.queue.next_seq(),
            endpoint=endpoint.name,
            inference_id=str(params.get("InferenceId") or uuid.uuid4()),
            received=now,
            ttl_s=int(params.get("RequestTTLSeconds", DEFAULT_TTL_S)),
            timeout_s=int(params.get("InvocationTimeoutSeconds", DEFAULT_TIMEOUT_S)),
            output_location=places.output,
            failure_location=places.failure,
            input_location=None if location is None else str(location),
            inline_body=body,
            content_type=params.get("ContentType"),
            accept=params.get("Accept"),
            custom_attributes=params.get("CustomAttributes"),
            kms_key_id=config.kms_key_id,
            notifications=config.notifications,
        )
        self.queue.accept(request, now)
        self.accepted(endpoint.name)
        return request

    def _check_input(self, location: str) -> None:
        try:
            where = parse_input(location)
        except PayloadError as exc:
            raise errors.validation_error(str(exc) + ".") from None
        if where.path is not None:
            try:
                self.file_roots.check_location("InputLocation", location)
            except OutsideRoots as exc:
                raise errors.validation_error(str(exc)) from None


async def _send(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", new_request_id().encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
