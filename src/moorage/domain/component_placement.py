"""Where the copies of an endpoint's inference components are placed.

One record per endpoint that hosts inference components: per production
variant, its instances (capacity only: a local instance is a budget of
vCPUs, memory and accelerator devices taken from the instance-type catalog)
and the copies placed on each, with their device indices and the generation
of their component's specification.

``control/`` computes a new placement with the pure scheduler
(:mod:`moorage.deploy.component_plan`) and stores it in the same transaction
as the component change, so a change that does not fit changes nothing and a
restarted server finds every copy where it was. ``deploy/`` starts a process
for each placed copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from moorage.placement import InstanceSlot, InstanceType, PlacedCopy, Requirements
from moorage.placement import default_catalog as _default_catalog
from moorage.store.base import Record

KIND = "component-placement"


@dataclass(frozen=True)
class PlacedComponentCopy:
    """A placed copy and the instance it is on."""

    instance_id: str
    copy: PlacedCopy
    generation: int


@dataclass(frozen=True)
class VariantCapacity:
    """A production variant's instances and the copies on them."""

    variant: str
    instance_type: InstanceType
    instances: tuple[InstanceSlot, ...]
    # copy id -> generation of the component specification it runs.
    generations: Mapping[str, int] = field(default_factory=dict)

    def copies(self) -> list[PlacedComponentCopy]:
        return [
            PlacedComponentCopy(slot.instance_id, copy, self.generations.get(copy.copy_id, 1))
            for slot in self.instances
            for copy in slot.copies
        ]

    def copies_of(self, component: str) -> list[PlacedComponentCopy]:
        return [c for c in self.copies() if c.copy.component == component]

    def with_instances(
        self, instances: tuple[InstanceSlot, ...], new_generations: Mapping[str, int] | None = None
    ) -> VariantCapacity:
        """The variant with ``instances``; generations of copies no longer placed are dropped."""
        merged = {**self.generations, **(new_generations or {})}
        present = {copy.copy_id for slot in instances for copy in slot.copies}
        return replace(
            self,
            instances=instances,
            generations={k: v for k, v in merged.items() if k in present},
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "instance_type": self.instance_type.name,
            "instances": [
                {
                    "id": slot.instance_id,
                    "copies": [
                        _copy_doc(c, self.generations.get(c.copy_id, 1)) for c in slot.copies
                    ],
                }
                for slot in self.instances
            ],
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> VariantCapacity:
        kind = _default_catalog().get(str(doc["instance_type"]))
        generations: dict[str, int] = {}
        instances = []
        for item in doc.get("instances", []):
            copies = []
            for c in item.get("copies", []):
                copies.append(_copy_from_doc(c))
                generations[str(c["id"])] = int(c.get("generation", 1))
            instances.append(InstanceSlot(str(item["id"]), kind, tuple(copies)))
        return cls(str(doc["variant"]), kind, tuple(instances), generations)


@dataclass(frozen=True)
class EndpointPlacement:
    endpoint: str
    endpoint_arn: str
    # The endpoint this placement belongs to (a new endpoint of the same name starts afresh).
    endpoint_created: float
    variants: tuple[VariantCapacity, ...]

    def variant(self, name: str) -> VariantCapacity | None:
        for variant in self.variants:
            if variant.variant == name:
                return variant
        return None

    def with_variant(self, capacity: VariantCapacity) -> EndpointPlacement:
        variants = tuple(capacity if v.variant == capacity.variant else v for v in self.variants)
        return replace(self, variants=variants)

    def copies_of(self, component: str) -> list[PlacedComponentCopy]:
        return [c for v in self.variants for c in v.copies_of(component)]

    def to_record(self, now: float) -> Record:
        doc = {
            "endpoint_created": self.endpoint_created,
            "variants": [v.to_doc() for v in self.variants],
        }
        return Record(KIND, self.endpoint, self.endpoint_arn, self.endpoint_created, now, doc)


def placement_from_record(record: Record) -> EndpointPlacement:
    doc = record.doc
    return EndpointPlacement(
        endpoint=record.name,
        endpoint_arn=record.arn,
        endpoint_created=float(doc["endpoint_created"]),
        variants=tuple(VariantCapacity.from_doc(v) for v in doc.get("variants", [])),
    )


def _copy_doc(copy: PlacedCopy, generation: int) -> dict[str, Any]:
    need = copy.requirements
    return {
        "id": copy.copy_id,
        "component": copy.component,
        "generation": generation,
        "millicpus": need.millicpus,
        "accelerators": need.accelerators,
        "min_memory_mb": need.min_memory_mb,
        "max_memory_mb": need.max_memory_mb,
        "devices": list(copy.accelerator_indices),
    }


def _copy_from_doc(doc: Mapping[str, Any]) -> PlacedCopy:
    maximum = doc.get("max_memory_mb")
    requirements = Requirements(
        cpus=int(doc["millicpus"]) / 1000,
        accelerators=int(doc["accelerators"]),
        min_memory_mb=int(doc["min_memory_mb"]),
        max_memory_mb=None if maximum is None else int(maximum),
    )
    return PlacedCopy(
        str(doc["id"]),
        str(doc["component"]),
        requirements,
        tuple(int(d) for d in doc.get("devices", [])),
    )
