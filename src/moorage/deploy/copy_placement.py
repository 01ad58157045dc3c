"""Where a copy runs, as the fleet reports it for utilization metrics.

The reconciler (a variant's copies) and the component runner (copies of
inference components) attach a :class:`moorage.fleet.base.CopyPlacement` to
each copy they start: the instance's capacities from the instance-type
catalog (:mod:`moorage.placement.catalog`), and for a component's copy what
it reserved. The usage sampler (:mod:`moorage.usage`) scales CPU, memory
and GPU readings by them, as SageMaker scales its utilization metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from moorage.domain.endpoint_config import VariantSpec
from moorage.domain.inference_component import requirements_of
from moorage.fleet.base import CopyPlacement
from moorage.placement import InstanceType, default_catalog


def for_variant(variant: VariantSpec, instance_id: str) -> CopyPlacement:
    """One instance of ``variant`` (a serverless variant: its memory size alone)."""
    kind = default_catalog().find(variant.instance_type) if variant.instance_type else None
    if kind is not None:
        return of_instance(kind, instance_id)
    serverless: Mapping[str, Any] = variant.spec.get("ServerlessConfig") or {}
    memory = serverless.get("MemorySizeInMB")
    return CopyPlacement(instance_id, memory_mib=int(memory) if memory else None)


def of_instance(kind: InstanceType, instance_id: str) -> CopyPlacement:
    return CopyPlacement(
        instance_id,
        vcpus=kind.vcpus,
        memory_mib=kind.memory_mib,
        accelerators=kind.accelerator_count,
        instance_type=kind.name,
    )


def for_component(kind: InstanceType, instance_id: str, spec: Mapping[str, Any]) -> CopyPlacement:
    """A copy of the component specified by ``spec``, on instance ``instance_id``."""
    wanted = requirements_of(spec)
    return replace(
        of_instance(kind, instance_id),
        reserved_cpus=wanted.cpus or None,
        reserved_memory_mib=wanted.min_memory_mb or None,
        reserved_accelerators=wanted.accelerators or None,
    )
