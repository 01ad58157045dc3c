"""Holding invocations that find no copy: order, bounds, time-outs and who is woken."""

from __future__ import annotations

import asyncio
import random

import pytest

from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy, CopySpec
from moorage.runtime.components import ComponentRoute, NoCopies, resolve
from moorage.runtime.errors import RuntimeError_
from moorage.runtime.hold import HoldLimits, Holds
from moorage.runtime.router import Router
from moorage.runtime.serverless_gate import ServerlessGate
from moorage.runtime.snapshot import EndpointRoute, GroupRoute, VariantRoute

COPY = Copy(CopySpec("ic-1", "ep", "AllTraffic", "img", None))
ENDPOINT = EndpointRoute.build("ep", "InService", (), component_based=True)


def table(copies: tuple[Copy, ...], desired: int) -> dict[str, ComponentRoute]:
    return {"ic": ComponentRoute("ic", "AllTraffic", "cfg", Routing.RANDOM, copies, desired)}


class Observer:
    def __init__(self) -> None:
        self.no_capacity_calls: list[str] = []
        self.held_calls: list[tuple[str, str, str | None, float]] = []

    def no_capacity(self, component: str) -> None:
        self.no_capacity_calls.append(component)

    def held(self, endpoint: str, variant: str, component: str | None, waited_s: float) -> None:
        self.held_calls.append((endpoint, variant, component, waited_s))


def at_zero(router: Router) -> NoCopies:
    with pytest.raises(NoCopies) as caught:
        resolve(ENDPOINT, router.components("ep"), "ic", None)
    return caught.value


def setup(limits: HoldLimits, wakes: list[str], coming: bool = True) -> tuple[Router, Holds]:
    router = Router()
    router.publish(ENDPOINT)
    router.publish_components("ep", table((), 0))
    observer = Observer()
    holds = Holds(router, limits, observer)

    def wake(component: str) -> bool:
        wakes.append(component)
        return coming

    holds.wake_component = wake
    return router, holds


def test_held_requests_go_on_in_arrival_order_once_a_copy_is_routed() -> None:
    async def scenario() -> list[int]:
        wakes: list[str] = []
        router, holds = setup(HoldLimits(max_waiting=8, max_wait_s=5), wakes)
        order: list[int] = []

        async def one(index: int) -> None:
            component = await holds.component(ENDPOINT, "ic", None, at_zero(router))
            assert component.copies == (COPY,)
            order.append(index)

        tasks = [asyncio.create_task(one(i)) for i in range(5)]
        await asyncio.sleep(0.01)
        assert holds.waiting() == 5
        # Desired copies first (the controller scaled it), still none ready: they keep waiting.
        router.publish_components("ep", table((), 1))
        await asyncio.sleep(0.01)
        assert holds.waiting() == 5
        router.publish_components("ep", table((COPY,), 1))
        await asyncio.gather(*tasks)
        assert wakes == ["ic"] * 5
        assert holds.waiting() == 0
        assert len(holds.observer.held_calls) == 5  # type: ignore[attr-defined]
        assert holds.observer.no_capacity_calls == ["ic"] * 5  # type: ignore[attr-defined]
        return order

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


def test_no_target_to_grow_the_component_fails_at_once() -> None:
    async def scenario() -> RuntimeError_:
        router, holds = setup(HoldLimits(), [], coming=False)
        with pytest.raises(NoCopies) as caught:
            await holds.component(ENDPOINT, "ic", None, at_zero(router))
        assert holds.waiting() == 0
        return caught.value

    found = asyncio.run(scenario())
    assert (found.code, found.status) == ("ValidationError", 400)


def test_holding_off_is_aws_behaviour() -> None:
    async def scenario() -> None:
        wakes: list[str] = []
        router, holds = setup(HoldLimits(max_waiting=0), wakes)
        with pytest.raises(NoCopies):
            await holds.component(ENDPOINT, "ic", None, at_zero(router))
        assert wakes == []
        assert holds.observer.no_capacity_calls == ["ic"]  # type: ignore[attr-defined]

    asyncio.run(scenario())


def test_the_queue_and_the_wait_are_bounded() -> None:
    async def scenario() -> None:
        router, holds = setup(HoldLimits(max_waiting=2, max_wait_s=0.3), [])
        waiting = [
            asyncio.create_task(holds.component(ENDPOINT, "ic", None, at_zero(router)))
            for _ in range(2)
        ]
        await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError_) as full:
            await holds.component(ENDPOINT, "ic", None, at_zero(router))
        assert (full.value.code, full.value.status) == ("ServiceUnavailable", 503)
        assert "Too many requests are waiting" in full.value.message
        for task in waiting:
            with pytest.raises(NoCopies):
                await task
        assert holds.waiting() == 0

    asyncio.run(scenario())


def test_a_serverless_variant_is_woken_and_waited_for_even_with_holding_off() -> None:
    async def scenario() -> None:
        router = Router()
        woken: list[int] = []
        gate = ServerlessGate(2, lambda: woken.append(1))
        cold = VariantRoute(
            "AllTraffic", 1.0, Routing.RANDOM, (GroupRoute("cfg", 1.0, ()),), serverless=gate
        )
        route = EndpointRoute.build("sls", "InService", (cold,), component_based=False)
        router.publish(route)
        assert route.pick_variant(random.Random(1)) is cold
        holds = Holds(router, HoldLimits(max_waiting=0, max_wait_s=5))
        task = asyncio.create_task(holds.variant(route, cold))
        await asyncio.sleep(0.01)
        assert woken == [1]
        warm = VariantRoute(
            "AllTraffic", 1.0, Routing.RANDOM, (GroupRoute("cfg", 1.0, (COPY,)),), serverless=gate
        )
        router.publish(EndpointRoute.build("sls", "InService", (warm,), component_based=False))
        assert await task is warm

    asyncio.run(scenario())
