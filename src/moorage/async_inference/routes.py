"""The router, aware of asynchronous endpoints.

:class:`AsyncRouter` is the server's :class:`~moorage.runtime.router.Router`:
the reconciler publishes every endpoint's routing snapshot to it as before.
The snapshot of an endpoint whose config has an ``AsyncInferenceConfig`` is
kept for the async dispatcher (:meth:`AsyncRouter.async_route`), and the
real-time table gets a copy whose status is :data:`ASYNC_ONLY`. SageMaker
answers such an endpoint only through InvokeEndpointAsync; InvokeEndpoint's
existing status check turns that status away (:mod:`moorage.runtime.invoke`),
so a plain InvokeEndpoint does no extra work for it.
"""

from __future__ import annotations

from dataclasses import replace

from moorage.async_inference.endpoints import AsyncEndpoints
from moorage.runtime.router import Router
from moorage.runtime.snapshot import EndpointRoute

# The status real-time invocations see for an asynchronous endpoint.
ASYNC_ONLY = "AsyncOnly"


class AsyncRouter(Router):
    def __init__(self, endpoints: AsyncEndpoints) -> None:
        super().__init__()
        self.endpoints = endpoints
        self._async: dict[str, EndpointRoute] = {}

    def publish(self, route: EndpointRoute) -> None:
        key = route.name.lower()
        if self.endpoints.is_async(route.name):
            self._async[key] = route
            super().publish(replace(route, status=ASYNC_ONLY))
        else:
            self._async.pop(key, None)
            super().publish(route)

    def withdraw(self, name: str) -> None:
        self._async.pop(name.lower(), None)
        super().withdraw(name)

    def async_route(self, name: str) -> EndpointRoute | None:
        return self._async.get(name.lower())

    def async_endpoints(self) -> list[str]:
        return [route.name for route in self._async.values()]
