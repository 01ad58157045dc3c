"""``POST /moorage/plan``: the timeline an UpdateEndpoint would follow, changing nothing.

The body is an UpdateEndpoint request (validated by the same model); the
answer is the plan document of :mod:`moorage.deploy.plan_format`. Errors
have the SageMaker JSON form. ``moorage plan`` is the command-line client.
"""

from __future__ import annotations

import json
import logging

from moorage.api.http import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    read_body,
    send_response,
)
from moorage.api.json_protocol import decode_json, error_body
from moorage.api.service_models import SAGEMAKER, operation_model
from moorage.api.validate import validate
from moorage.control.endpoint_updates import EndpointUpdatesService
from moorage.errors import ServiceError

log = logging.getLogger(__name__)

PATH = "/moorage/plan"
MAX_BODY = 1024 * 1024


class PlanPage:
    def __init__(self, updates: EndpointUpdatesService) -> None:
        self.updates = updates
        self.shape = operation_model(SAGEMAKER, "UpdateEndpoint").input_shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != PATH or scope["method"] != "POST":
            await send_response(
                send,
                404,
                error_body("UnknownOperationException", f"Use POST {PATH}."),
            )
            return
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            await send_response(send, 413, error_body("ValidationException", "Body too large."))
            return
        except ClientDisconnected:
            return
        try:
            raw = decode_json(body)
            params = validate(self.shape, raw)
            plan = self.updates.plan_endpoint_update(params)
        except ServiceError as exc:
            await send_response(send, exc.status, error_body(exc.code, exc.message))
            return
        except Exception:
            log.exception("planning failed")
            await send_response(
                send, 500, error_body("InternalFailure", "Planning failed unexpectedly.")
            )
            return
        await send_response(send, 200, json.dumps(plan).encode())
