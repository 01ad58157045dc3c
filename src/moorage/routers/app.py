"""A router process's ASGI application.

SageMaker Runtime's paths (``/endpoints/...``) pass the same
:class:`~moorage.api.gate.Gate` as on the server and go to the router's
:class:`~moorage.runtime.invoke.Invoker`, which serves direct endpoints and
hands the rest over; every other request is handed to the server process
as it came (:mod:`moorage.routers.handoff`), where it meets the gate there.
"""

from __future__ import annotations

from moorage.api.gate import RUNTIME_PREFIX, Gate
from moorage.api.http import Receive, Scope, Send
from moorage.routers.handoff import Handoff
from moorage.runtime.invoke import Invoker


class RouterApp:
    def __init__(self, gate: Gate, invoker: Invoker, handoff: Handoff) -> None:
        self.gate = gate
        self.invoker = invoker
        self.handoff = handoff

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if not scope["path"].startswith(RUNTIME_PREFIX):
            await self.handoff.asgi(scope, receive, send)
            return
        admitted = await self.gate.admit(scope, receive, send)
        if admitted is not None:
            await self.invoker(scope, admitted, send)
