"""The table of routing snapshots, swapped atomically by the reconciler."""

from __future__ import annotations

from moorage.runtime.snapshot import EndpointRoute


class Router:
    def __init__(self) -> None:
        self._routes: dict[str, EndpointRoute] = {}

    def publish(self, route: EndpointRoute) -> None:
        # A dict item assignment is atomic for readers on the same loop.
        self._routes[route.name.lower()] = route

    def withdraw(self, name: str) -> None:
        self._routes.pop(name.lower(), None)

    def get(self, name: str) -> EndpointRoute | None:
        return self._routes.get(name.lower())

    def names(self) -> list[str]:
        return [route.name for route in self._routes.values()]
