"""How many instances serve a variant, for ``InvocationsPerInstance``.

SageMaker adds ``1 / numberOfInstances`` to ``InvocationsPerInstance`` per
invocation, counting the variant's active instances at the time of the
request. A variant's copy is an instance of its own, so for an endpoint of
models it is the copies of the groups taking traffic in the routing
snapshot (blue and green during a blue/green step). On an endpoint of
inference components it is the instances the components' copies are placed
on (:class:`moorage.fleet.base.CopyPlacement`), counted once per component
table the component runner publishes and then read from a cache, so an
invocation costs a dictionary lookup.
"""

from __future__ import annotations

from moorage.fleet.base import Copy
from moorage.runtime.components import ComponentTable
from moorage.runtime.router import Router
from moorage.runtime.snapshot import VariantRoute

# Endpoints whose counts are cached; past this the cache starts afresh.
_MAX_ENDPOINTS = 1024


class InstanceCounts:
    def __init__(self, router: Router) -> None:
        self.router = router
        # Endpoint (as routed) -> (the component table counted, instances per variant).
        self._counted: dict[str, tuple[ComponentTable, dict[str, int]]] = {}

    def of(self, endpoint: str, variant: VariantRoute) -> int:
        """Instances of ``variant`` of ``endpoint`` (0 when none is known)."""
        if variant.component is None:
            return sum(len(group.copies) for group in variant.live_groups)
        table = self.router.components(endpoint)
        if table is None:
            return 0
        cached = self._counted.get(endpoint)
        if cached is None or cached[0] is not table:
            if len(self._counted) >= _MAX_ENDPOINTS:
                self._counted.clear()
            cached = self._counted[endpoint] = (table, count_instances(table))
        return cached[1].get(variant.name, 0)


def count_instances(table: ComponentTable) -> dict[str, int]:
    """Distinct instances hosting a copy of any component, per variant."""
    hosts: dict[str, set[str]] = {}
    for component in table.values():
        found = hosts.setdefault(component.variant, set())
        found.update(instance_of(copy) for copy in component.copies)
    return {variant: len(ids) for variant, ids in hosts.items()}


def instance_of(copy: Copy) -> str:
    placement = copy.spec.placement
    return placement.instance_id if placement is not None else copy.copy_id
