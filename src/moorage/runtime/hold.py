"""Holding an invocation while a copy starts, instead of failing it.

On AWS an invocation of an inference component scaled to zero copies fails
(and counts in ``NoCapacityInvocationFailures``) until a step scaling policy
has added a copy, minutes later. moorage holds it instead:

- **Inference component with no copy ready.** ``NoCapacityInvocationFailures``
  is recorded as on AWS, so AWS's scale-from-zero alarm works unchanged. If
  its copy count is 0 and a scalable target lets it grow (Application Auto
  Scaling, ``MinCapacity`` 0), the autoscaling controller is asked to scale
  it out now (:meth:`moorage.autoscaling.controller.Controller.wake_from_zero`)
  and the request waits; with no such target it fails at once with the
  error it always had. A component whose copies are starting (copy count
  above 0) is waited for too.
- **Serverless variant with no copy** (:mod:`moorage.deploy.serverless`):
  the serverless fleet starts one, the request waits.

Waiting is bounded: at most ``max_waiting`` requests per component or
variant (more get ``ServiceUnavailable``) for at most ``max_wait_s`` each
(then the error the request would have had). Waiters wake in arrival order
when the endpoint's routes change (:meth:`moorage.runtime.router.Router.next_change`).
The wait is recorded (``ColdStartWaitTime``). ``max_waiting`` 0 turns
holding off: AWS's behaviour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from moorage.runtime import errors
from moorage.runtime.components import ComponentRoute, NoCopies, resolve
from moorage.runtime.router import Router
from moorage.runtime.snapshot import EndpointRoute, VariantRoute


@dataclass(frozen=True)
class HoldLimits:
    # Requests waiting at once per component or variant; 0: never hold.
    max_waiting: int = 64
    # How long one request waits for a copy (the real-time invocation timeout).
    max_wait_s: float = 60.0


class HoldObserver(Protocol):
    """Told about requests that found no copy (metrics); cheap, never raises."""

    def no_capacity(self, component: str) -> None:
        """An invocation of ``component`` found its copy count at 0."""
        ...

    def held(self, endpoint: str, variant: str, component: str | None, waited_s: float) -> None:
        """A request waited ``waited_s`` for a copy, then went on to it."""
        ...


class NoHoldObserver:
    def no_capacity(self, component: str) -> None:
        return None

    def held(self, endpoint: str, variant: str, component: str | None, waited_s: float) -> None:
        return None


# Asked to grow a component at copy count 0: (component name) -> whether a copy is coming.
ComponentWaker = Callable[[str], bool]


def _never(component: str) -> bool:
    return False


class Holds:
    def __init__(
        self,
        router: Router,
        limits: HoldLimits | None = None,
        observer: HoldObserver | None = None,
    ) -> None:
        self.router = router
        self.limits = limits or HoldLimits()
        self.observer: HoldObserver = observer or NoHoldObserver()
        self.wake_component: ComponentWaker = _never
        # (endpoint, component or variant) -> requests waiting now.
        self._waiting: dict[tuple[str, str], int] = {}

    def waiting(self) -> int:
        return sum(self._waiting.values())

    async def component(
        self,
        route: EndpointRoute,
        name: str | None,
        target_variant: str | None,
        found: NoCopies,
    ) -> ComponentRoute:
        """Wait for a copy of the component ``found`` has none of; raise ``found`` if not."""
        # No copy could take it: counted as on AWS (where it fails), held or not.
        self.observer.no_capacity(found.component)
        if self.limits.max_waiting <= 0:
            raise found
        if found.at_zero and not self.wake_component(found.serving):
            raise found
        key = (route.name.lower(), found.serving.lower())
        with self._place(key, f"inference component {found.serving}", self.limits.max_waiting):
            started = time.perf_counter()
            deadline = started + self.limits.max_wait_s
            last: NoCopies = found
            while True:
                change = self.router.next_change(route.name)
                current = self.router.get(route.name)
                if current is None:
                    change.cancel()
                    raise found
                try:
                    component = resolve(
                        current, self.router.components(current.name), name, target_variant
                    )
                except NoCopies as still:
                    last = still
                except BaseException:
                    change.cancel()
                    raise
                else:
                    change.cancel()
                    waited = time.perf_counter() - started
                    self.observer.held(current.name, component.variant, component.name, waited)
                    return component
                if not await _until(change, deadline):
                    raise last

    async def variant(self, route: EndpointRoute, variant: VariantRoute) -> VariantRoute:
        """Wait for a copy of serverless ``variant``, which has none; its fleet is woken.

        Cold starts are how serverless variants work (on AWS too): they are
        waited for even with holding off, bounded by the variant's
        ``MaxConcurrency`` (:class:`~moorage.runtime.serverless_gate.ServerlessGate`)
        rather than ``max_waiting``.
        """
        gate = variant.serverless
        if gate is None:
            raise _no_instance(route, variant.name)
        key = (route.name.lower(), variant.name)
        with self._place(key, f"variant {variant.name}", None):
            gate.wake()
            started = time.perf_counter()
            deadline = started + self.limits.max_wait_s
            while True:
                change = self.router.next_change(route.name)
                current = self.router.get(route.name)
                found = current.by_variant.get(variant.name) if current else None
                if found is None:
                    change.cancel()
                    raise _no_instance(route, variant.name)
                if found.serving:
                    change.cancel()
                    self.observer.held(route.name, found.name, None, time.perf_counter() - started)
                    return found
                if not await _until(change, deadline):
                    raise errors.service_unavailable(
                        f"Variant {variant.name} of endpoint {route.name} had no instance ready "
                        f"within {self.limits.max_wait_s:g} seconds."
                    )

    def _place(self, key: tuple[str, str], what: str, limit: int | None) -> _Place:
        count = self._waiting.get(key, 0)
        if limit is not None and count >= limit:
            raise errors.service_unavailable(
                f"Too many requests are waiting for {what} of endpoint {key[0]} to start a copy "
                f"({count}); try again shortly."
            )
        return _Place(self._waiting, key)


class _Place:
    """One waiting request's place in its queue, given back however the wait ends."""

    def __init__(self, waiting: dict[tuple[str, str], int], key: tuple[str, str]) -> None:
        self._waiting = waiting
        self._key = key

    def __enter__(self) -> None:
        self._waiting[self._key] = self._waiting.get(self._key, 0) + 1

    def __exit__(self, *exc: object) -> None:
        left = self._waiting[self._key] - 1
        if left:
            self._waiting[self._key] = left
        else:
            del self._waiting[self._key]


async def _until(change: asyncio.Future[None], deadline: float) -> bool:
    """Wait for ``change`` until ``deadline`` (perf_counter); False when time is up."""
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        change.cancel()
        return False
    try:
        await asyncio.wait_for(change, remaining)
    except TimeoutError:
        return False
    return True


def _no_instance(route: EndpointRoute, variant: str) -> errors.RuntimeError_:
    return errors.service_unavailable(
        f"Variant {variant} of endpoint {route.name} has no instance ready to serve."
    )
