"""Instances as Ray placement groups: one bundle sized like the instance type.

moorage's scheduler decides which *instance* a copy goes to; Ray decides which
*node* an instance lives on. Each instance of an endpoint is one placement
group with one bundle holding the instance type's vCPUs, memory and
accelerators from moorage's catalog (:func:`bundle_of`): ``CPU``,
``memory`` (bytes), and ``GPU`` for NVIDIA types, ``neuron_cores`` for
Inferentia/Trainium (devices times NeuronCores per device), ``HPU`` for Gaudi. A
bundle fits on one node or nowhere, so an instance never straddles nodes.
The groups are detached and named after the data dir's namespace, endpoint
and instance, so a restarted server finds them again
(:mod:`moorage.fleet.ray.cluster`).

Every copy placed on an instance is an actor inside its bundle that takes
none of the bundle's CPU or memory (the instance's capacity was already
divided by moorage's scheduler) but its accelerators: a variant's copy all
of the instance's, a component's copy what it reserved, so Ray picks the
devices and sets their visibility variables in the actor, which the model
server inherits (:func:`actor_resources`). A group is removed when its last
copy stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from moorage.fleet.base import CopyPlacement
from moorage.placement import AcceleratorKind, InstanceType, default_catalog

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# How long an instance waits for Ray to place it before the server says so.
PLACING_SAYS_S = 5.0
# Environment the local fleet sets to pin devices; on Ray, Ray assigns devices.
DEVICE_VARIABLES = ("CUDA_VISIBLE_DEVICES", "NEURON_RT_VISIBLE_CORES", "HABANA_VISIBLE_MODULES")


@dataclass(frozen=True)
class InstanceShape:
    """What one instance's bundle asks Ray for, and how to say it to a person."""

    bundle: dict[str, float]
    accelerator_resource: str | None
    accelerators_per_device: int = 1

    def describe(self) -> str:
        parts = [f"{self.bundle.get('CPU', 0):g} CPU"]
        if "memory" in self.bundle:
            parts.append(f"{self.bundle['memory'] / MIB:.0f} MiB memory")
        if self.accelerator_resource:
            parts.append(f"{self.bundle[self.accelerator_resource]:g} {self.accelerator_resource}")
        return ", ".join(parts)


def _accelerator_resource(kind: InstanceType) -> tuple[str | None, int]:
    if kind.accelerator_kind is AcceleratorKind.NVIDIA_GPU:
        return "GPU", 1
    if kind.accelerator_kind is AcceleratorKind.NEURON:
        return "neuron_cores", kind.cores_per_accelerator or 1
    if kind.accelerator_kind is AcceleratorKind.HABANA_GAUDI:
        return "HPU", 1
    return None, 1


def bundle_of(placement: CopyPlacement | None) -> InstanceShape:
    """The bundle of the instance ``placement`` names (one CPU for serverless copies)."""
    kind = None
    if placement is not None and placement.instance_type:
        kind = default_catalog().find(placement.instance_type)
    if kind is None:
        memory = placement.memory_mib if placement and placement.memory_mib else None
        bundle: dict[str, float] = {"CPU": float(placement.vcpus or 1) if placement else 1.0}
        if memory:
            bundle["memory"] = float(memory * MIB)
        return InstanceShape(bundle, None)
    bundle = {"CPU": float(kind.vcpus), "memory": float(kind.memory_mib * MIB)}
    resource, per_device = _accelerator_resource(kind)
    if resource is not None:
        bundle[resource] = float(kind.accelerator_count * per_device)
    return InstanceShape(bundle, resource, per_device)


def actor_resources(shape: InstanceShape, placement: CopyPlacement | None) -> dict[str, float]:
    """What a copy's actor takes from its instance's bundle: its accelerators only."""
    if shape.accelerator_resource is None:
        return {}
    count: float = shape.bundle[shape.accelerator_resource]
    if placement is not None and placement.reserved_accelerators is not None:
        count = float(placement.reserved_accelerators * shape.accelerators_per_device)
    return {shape.accelerator_resource: count} if count else {}


def group_name(namespace: str, endpoint: str, instance_id: str) -> str:
    digest = hashlib.blake2s(f"{endpoint}\0{instance_id}".encode(), digest_size=8).hexdigest()
    return f"{namespace}-instance-{digest}"


@dataclass
class Instance:
    name: str
    shape: InstanceShape
    group: Any
    copies: set[str] = field(default_factory=set)


class Instances:
    """The placement groups of the instances that hold copies, by group name."""

    def __init__(self, ray: Any, namespace: str) -> None:
        self._ray = ray
        self.namespace = namespace
        self._instances: dict[str, Instance] = {}
        self._lock = asyncio.Lock()

    def adopt(self, name: str, group: Any, shape: InstanceShape) -> None:
        """A group found on the cluster at start (its copies are adopted one by one)."""
        self._instances.setdefault(name, Instance(name, shape, group))

    async def acquire(
        self, endpoint: str, placement: CopyPlacement | None, copy_id: str, *, timeout_s: float
    ) -> Instance:
        """The instance's group, created if needed and placed by Ray; ``copy_id`` is counted.

        Raises :class:`Unplaceable` if Ray finds no node for it in ``timeout_s``.
        """
        instance_id = placement.instance_id if placement else copy_id
        name = group_name(self.namespace, endpoint, instance_id)
        async with self._lock:
            instance = self._instances.get(name)
            if instance is None:
                shape = bundle_of(placement)
                group = await asyncio.to_thread(self._create, name, shape)
                instance = self._instances[name] = Instance(name, shape, group)
            instance.copies.add(copy_id)
        try:
            placed = await self._placed(instance, placement, instance_id, timeout_s)
        except BaseException:
            await self.release(instance, copy_id)
            raise
        if not placed:
            await self.release(instance, copy_id)
            kind = placement.instance_type if placement and placement.instance_type else ""
            raise Unplaceable(
                f"No Ray node has room for {kind}{' ' if kind else ''}instance {instance_id} "
                f"({instance.shape.describe()}) after {timeout_s:g} s."
            )
        return instance

    async def _placed(
        self,
        instance: Instance,
        placement: CopyPlacement | None,
        instance_id: str,
        timeout_s: float,
    ) -> bool:
        """Whether Ray placed the instance's group within ``timeout_s`` (says so if slow)."""
        ready = asyncio.ensure_future(_ready(instance.group))
        # Once given up on, the group is removed and its ready() fails: nothing to report.
        ready.add_done_callback(_quiet)
        done, _ = await asyncio.wait({ready}, timeout=min(PLACING_SAYS_S, timeout_s))
        if not done:
            kind = placement.instance_type if placement and placement.instance_type else ""
            log.warning(
                "instance %s%s waits for a Ray node with room for %s",
                instance_id,
                f" ({kind})" if kind else "",
                instance.shape.describe(),
            )
            done, _ = await asyncio.wait({ready}, timeout=max(0.0, timeout_s - PLACING_SAYS_S))
        if not done:
            return False
        ready.result()
        return True

    def names(self) -> set[str]:
        """The groups this fleet holds or is placing."""
        return set(self._instances)

    def hold(self, instance: Instance, copy_id: str) -> None:
        instance.copies.add(copy_id)

    async def release(self, instance: Instance, copy_id: str) -> None:
        """``copy_id`` left; the group goes with its last copy."""
        async with self._lock:
            instance.copies.discard(copy_id)
            if instance.copies or self._instances.get(instance.name) is not instance:
                return
            del self._instances[instance.name]
        try:
            await asyncio.to_thread(self._ray.util.remove_placement_group, instance.group)
        except Exception:
            log.exception("removing placement group %s failed", instance.name)

    def _create(self, name: str, shape: InstanceShape) -> Any:
        return self._ray.util.placement_group(
            [shape.bundle], strategy="STRICT_PACK", name=name, lifetime="detached"
        )


async def _ready(group: Any) -> None:
    await group.ready()


def _quiet(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class Unplaceable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
