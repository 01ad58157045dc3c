"""The instance counts behind InvocationsPerInstance."""

from __future__ import annotations

from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy, CopyPlacement, CopySpec
from moorage.runtime.components import ComponentRoute
from moorage.runtime.instances import InstanceCounts, count_instances
from moorage.runtime.router import Router
from moorage.runtime.snapshot import GroupRoute, VariantRoute


def copy(copy_id: str, instance: str | None = None, variant: str = "AllTraffic") -> Copy:
    placement = CopyPlacement(instance) if instance else None
    return Copy(CopySpec(copy_id, "ep", variant, "img", None, placement=placement))


def component(name: str, variant: str, *copies: Copy) -> ComponentRoute:
    return ComponentRoute(name, variant, "cfg", Routing.RANDOM, copies, len(copies))


def test_a_variants_instances_are_the_copies_of_its_groups_taking_traffic() -> None:
    blue = GroupRoute("c1", 0.9, (copy("b1"), copy("b2"), copy("b3")))
    green = GroupRoute("c2", 0.1, (copy("g1"),))
    retired = GroupRoute("c0", 0.0, (copy("o1"),))
    variant = VariantRoute("AllTraffic", 1.0, Routing.RANDOM, (blue, green, retired))
    assert InstanceCounts(Router()).of("ep", variant) == 4


def test_components_count_the_instances_their_copies_are_placed_on() -> None:
    table = {
        "llm": component("llm", "AllTraffic", copy("l1", "i-1"), copy("l2", "i-2")),
        "small": component("small", "AllTraffic", copy("s1", "i-1")),
        "other": component("other", "Other", copy("o1", "i-9")),
        # A copy without a placement is an instance of its own.
        "bare": component("bare", "Bare", copy("x1"), copy("x2")),
    }
    assert count_instances(table) == {"AllTraffic": 2, "Other": 1, "Bare": 2}


def test_counts_follow_the_published_table() -> None:
    router = Router()
    counts = InstanceCounts(router)
    llm = component("llm", "AllTraffic", copy("l1", "i-1"))
    router.publish_components("ep", {"llm": llm})
    assert counts.of("ep", llm.variant_route) == 1
    grown = component("llm", "AllTraffic", copy("l1", "i-1"), copy("l2", "i-2"))
    router.publish_components("ep", {"llm": grown})
    assert counts.of("ep", grown.variant_route) == 2
    assert counts.of("unknown", grown.variant_route) == 0
