"""The table of routing snapshots, swapped atomically by the reconciler.

Besides each endpoint's snapshot it holds, for endpoints that host inference
components, the table of component routes the component runner publishes.
A request waiting for copies (:mod:`moorage.runtime.hold`) asks for
:meth:`Router.next_change` and is woken when anything of its endpoint is
published or withdrawn; nothing is done for an endpoint nobody waits on. Listeners
(:meth:`Router.listen`) are told the name of every endpoint whose routes
change: the router processes of ``moorage serve --workers`` are kept current
through one (:mod:`moorage.routers`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from moorage.runtime.components import ComponentTable
from moorage.runtime.snapshot import EndpointRoute


class Router:
    def __init__(self) -> None:
        self._routes: dict[str, EndpointRoute] = {}
        self._components: dict[str, ComponentTable] = {}
        # Lower-cased endpoint name -> futures of requests waiting for its next change.
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        # Told the lower-cased name of each endpoint whose routes changed.
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with an endpoint's lower-cased name after each change of its routes."""
        self._listeners.append(listener)

    def publish(self, route: EndpointRoute) -> None:
        # A dict item assignment is atomic for readers on the same loop.
        key = route.name.lower()
        self._routes[key] = route
        if self._waiting:
            self._changed(key)
        for listener in self._listeners:
            listener(key)

    def publish_components(self, endpoint: str, table: ComponentTable) -> None:
        key = endpoint.lower()
        self._components[key] = table
        if self._waiting:
            self._changed(key)
        for listener in self._listeners:
            listener(key)

    def withdraw(self, name: str) -> None:
        key = name.lower()
        self._routes.pop(key, None)
        self._components.pop(key, None)
        if self._waiting:
            self._changed(key)
        for listener in self._listeners:
            listener(key)

    def get(self, name: str) -> EndpointRoute | None:
        return self._routes.get(name.lower())

    def components(self, endpoint: str) -> ComponentTable | None:
        return self._components.get(endpoint.lower())

    def endpoint_keys(self) -> list[str]:
        """The lower-cased names of the endpoints with routes or component tables."""
        return list({*self._routes, *self._components})

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
