"""``GET /moorage/{page}/{endpoint}``: a JSON document about one endpoint.

The pages the client commands read (``moorage placement``, ``moorage
models``) share this shape: the endpoint's name is the rest of the path, the
answer is the document a ``build`` function makes of it, and errors have the
SageMaker JSON form (a missing endpoint is SageMaker's
``ValidationException``, from ``build``). Each page module names its path
and its document (:mod:`moorage.api.placement_page`,
:mod:`moorage.api.models_page`).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

from moorage.api.http import Receive, Scope, Send, send_response
from moorage.api.json_protocol import error_body
from moorage.errors import ServiceError

log = logging.getLogger(__name__)


class EndpointPage:
    def __init__(self, path: str, build: Callable[[str], dict[str, Any]], what: str) -> None:
        self.path = path
        self.build = build
        # What the document is, for the answer when it cannot be built ("the placement").
        self.what = what

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = urllib.parse.unquote(scope["path"][len(self.path) :])
        if scope["method"] not in ("GET", "HEAD") or not name or "/" in name:
            await send_response(
                send,
                404,
                error_body("UnknownOperationException", f"Use GET {self.path}ENDPOINT_NAME."),
            )
            return
        try:
            document = self.build(name)
        except ServiceError as exc:
            await send_response(send, exc.status, error_body(exc.code, exc.message))
            return
        except Exception:
            log.exception("building %s page of %s failed", self.what, name)
            message = f"{self.what.capitalize()} could not be read."
            await send_response(send, 500, error_body("InternalFailure", message))
            return
        await send_response(send, 200, json.dumps(document).encode())
