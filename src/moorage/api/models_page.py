"""``GET /moorage/models/{endpoint}``: the models a multi-model endpoint holds, and their counts.

The answer is :meth:`moorage.runtime.multi_model.manager.MultiModels.document`:
per copy, the models loaded in it (least recently used first) with their
memory footprints, and per model its invocations, cache hits, loads and
unloads since the server started (docs/multi-model.md, "Seeing the models").
An endpoint that does not exist is SageMaker's ``ValidationException``; one
that hosts no multi-model container has empty lists. ``moorage models`` is
the command-line client.
"""

from __future__ import annotations

import json
import logging
import urllib.parse

from moorage.api.http import Receive, Scope, Send, send_response
from moorage.api.json_protocol import error_body
from moorage.control.endpoints import EndpointsService
from moorage.errors import ServiceError
from moorage.runtime.multi_model.manager import MultiModels

log = logging.getLogger(__name__)

PATH = "/moorage/models/"


class ModelsPage:
    def __init__(self, endpoints: EndpointsService, models: MultiModels) -> None:
        self.endpoints = endpoints
        self.models = models

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = urllib.parse.unquote(scope["path"][len(PATH) :])
        if scope["method"] not in ("GET", "HEAD") or not name or "/" in name:
            await send_response(
                send,
                404,
                error_body("UnknownOperationException", f"Use GET {PATH}ENDPOINT_NAME."),
            )
            return
        try:
            endpoint = self.endpoints.get(name)
            document = self.models.document(endpoint.name)
            document["endpoint_status"] = endpoint.status.value
        except ServiceError as exc:
            await send_response(send, exc.status, error_body(exc.code, exc.message))
            return
        except Exception:
            log.exception("building the models page failed")
            await send_response(
                send, 500, error_body("InternalFailure", "The models could not be read.")
            )
            return
        await send_response(send, 200, json.dumps(document).encode())
