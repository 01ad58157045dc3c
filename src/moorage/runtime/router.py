"""The table of routing snapshots, swapped atomically by the reconciler.

Besides each endpoint's snapshot it holds, for endpoints that host inference
components, the table of component routes the component runner publishes.
A request waiting for copies (:mod:`moorage.runtime.hold`) asks for
:meth:`Router.next_change` and is woken when anything of its endpoint is
published or withdrawn; nothing is done for an endpoint nobody waits on.
"""

from __future__ import annotations

import asyncio

from moorage.runtime.components import ComponentTable
from moorage.runtime.snapshot import EndpointRoute


class Router:
    def __init__(self) -> None:
        self._routes: dict[str, EndpointRoute] = {}
        self._components: dict[str, ComponentTable] = {}
        # Lower-cased endpoint name -> futures of requests waiting for its next change.
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}

    def publish(self, route: EndpointRoute) -> None:
        # A dict item assignment is atomic for readers on the same loop.
        key = route.name.lower()
        self._routes[key] = route
        if self._waiting:
            self._changed(key)

    def publish_components(self, endpoint: str, table: ComponentTable) -> None:
        key = endpoint.lower()
        self._components[key] = table
        if self._waiting:
            self._changed(key)

    def withdraw(self, name: str) -> None:
        key = name.lower()
        self._routes.pop(key, None)
        self._components.pop(key, None)
        if self._waiting:
            self._changed(key)

    def get(self, name: str) -> EndpointRoute | None:
        return self._routes.get(name.lower())

    def components(self, endpoint: str) -> ComponentTable | None:
        return self._components.get(endpoint.lower())

    def names(self) -> list[str]:
        return [route.name for route in self._routes.values()]

    def next_change(self, endpoint: str) -> asyncio.Future[None]:
        """A future resolved when ``endpoint``'s routes are next published or withdrawn.

        Futures resolve in the order they were asked for, so waiters wake in
        arrival order.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(endpoint.lower(), []).append(future)
        return future

    def _changed(self, key: str) -> None:
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result(None)
