"""The table of routing snapshots, swapped atomically by the reconciler.

Besides each endpoint's snapshot it holds, for endpoints that host inference
components, the table of component routes the component runner publishes.
"""

from __future__ import annotations

from moorage.runtime.components import ComponentTable
from moorage.runtime.snapshot import EndpointRoute


class Router:
    def __init__(self) -> None:
        self._routes: dict[str, EndpointRoute] = {}
        self._components: dict[str, ComponentTable] = {}

    def publish(self, route: EndpointRoute) -> None:
        # A dict item assignment is atomic for readers on the same loop.
        self._routes[route.name.lower()] = route

    def publish_components(self, endpoint: str, table: ComponentTable) -> None:
        self._components[endpoint.lower()] = table

    def withdraw(self, name: str) -> None:
        self._routes.pop(name.lower(), None)
        self._components.pop(name.lower(), None)

    def get(self, name: str) -> EndpointRoute | None:
        return self._routes.get(name.lower())

    def components(self, endpoint: str) -> ComponentTable | None:
        return self._components.get(endpoint.lower())

    def names(self) -> list[str]:
        return [route.name for route in self._routes.values()]
