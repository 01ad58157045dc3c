"""``GET /moorage/placement/{endpoint}``: where an endpoint's component copies run.

The answer is the document of :mod:`moorage.control.placement_document`
(per instance: its copies and the capacity left). Errors have the SageMaker
JSON form. ``moorage placement`` is the command-line client.
"""

from __future__ import annotations

import json
import logging
import urllib.parse

from moorage.api.http import Receive, Scope, Send, send_response
from moorage.api.json_protocol import error_body
from moorage.control.inference_components import InferenceComponentsService
from moorage.control.placement_document import placement_document
from moorage.errors import ServiceError

log = logging.getLogger(__name__)

PATH = "/moorage/placement/"


class PlacementPage:
    def __init__(self, components: InferenceComponentsService) -> None:
        self.components = components

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
            document = placement_document(self.components, name)
        except ServiceError as exc:
            await send_response(send, exc.status, error_body(exc.code, exc.message))
            return
        except Exception:
            log.exception("building the placement page failed")
            await send_response(
                send, 500, error_body("InternalFailure", "The placement could not be read.")
            )
            return
        await send_response(send, 200, json.dumps(document).encode())
