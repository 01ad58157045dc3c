"""The server process's view of a request a router handed over.

Such a request arrives on the private Unix socket (:mod:`moorage.routers.handoff`)
with its method, path, headers and body as the caller sent them; only what
the connection itself told the router is gone. :class:`HandedOver` restores
the one part of that the server reads: the scheme, ``https`` when the port
serves TLS (the dashboard marks its cookie ``Secure`` then).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from moorage.api.http import Receive, Scope, Send

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HandedOver:
    def __init__(self, app: AsgiApp, *, scheme: str) -> None:
        self.app = app
        self.scheme = scheme

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scoped: dict[str, Any] = {**scope, "scheme": self.scheme}
        await self.app(scoped, receive, send)
