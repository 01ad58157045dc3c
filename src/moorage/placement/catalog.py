"""The instance-type catalog: what an ``ml.*`` hosting instance holds.

Every value of botocore's ``ProductionVariantInstanceType`` enum is described
by ``instance_types.json`` (shipped beside this module) with its published
vCPUs, memory and accelerators. The scheduler (:mod:`moorage.placement.scheduler`)
reads capacities from here; :mod:`moorage.placement.devices` reads the
accelerator kind to choose the environment variables that pin a copy to its
devices. Control handlers may use :meth:`Catalog.get` to reject instance types
moorage cannot size.

The file is parsed once, on first use (:func:`default_catalog`), never at
import time.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from moorage.placement.errors import UnknownInstanceType

DATA_FILE = "instance_types.json"


class AcceleratorKind(StrEnum):
    """The family of accelerator devices an instance type carries."""

    NONE = "none"
    NVIDIA_GPU = "nvidia-gpu"
    # Inferentia and Trainium: devices made of NeuronCores, driven by the
    # Neuron runtime.
    NEURON = "neuron"
    # Intel Habana Gaudi (ml.dl1.24xlarge).
    HABANA_GAUDI = "habana-gaudi"


@dataclass(frozen=True)
class InstanceType:
    """Published capacity of one ``ml.*`` instance type.

    ``memory_mib`` is the instance's memory; the API's ``...InMb`` fields are
    compared against it one-to-one. ``cores_per_accelerator`` is the number of
    physical NeuronCores per device for Neuron types and ``None`` otherwise.
    """

    name: str
    vcpus: int
    memory_mib: int
    accelerator_count: int = 0
    accelerator_kind: AcceleratorKind = AcceleratorKind.NONE
    accelerator_name: str | None = None
    cores_per_accelerator: int | None = None

    def __post_init__(self) -> None:
        if self.vcpus <= 0 or self.memory_mib <= 0:
            raise ValueError(f"{self.name}: vCPUs and memory must be positive")
        if (self.accelerator_count > 0) != (self.accelerator_kind is not AcceleratorKind.NONE):
            raise ValueError(f"{self.name}: accelerator count and kind disagree")
        if (self.cores_per_accelerator is not None) != (
            self.accelerator_kind is AcceleratorKind.NEURON
        ):
            raise ValueError(f"{self.name}: only Neuron devices have NeuronCores")

    @property
    def millicpus(self) -> int:
        """vCPUs in thousandths, the unit the scheduler counts in."""
        return self.vcpus * 1000

    @property
    def has_accelerators(self) -> bool:
        return self.accelerator_count > 0

    def describe_accelerators(self) -> str:
        """``"4x NVIDIA A10G"``, ``"1x AWS Inferentia2 (2 NeuronCores each)"`` or ``"-"``."""
        if not self.accelerator_count:
            return "-"
        text = f"{self.accelerator_count}x {self.accelerator_name}"
        if self.cores_per_accelerator:
            text += f" ({self.cores_per_accelerator} NeuronCores each)"
        return text


class Catalog:
    """A read-only table of instance types, looked up by name."""

    def __init__(self, types: Mapping[str, InstanceType]):
        self._types = dict(types)

    def get(self, name: str) -> InstanceType:
        """The instance type called ``name``.

        Raises :class:`UnknownInstanceType` (never a bare ``KeyError``), whose
        message names the closest known types when there are any.
        """
        found = self._types.get(name)
        if found is None:
            close = difflib.get_close_matches(name, self._types, n=3)
            raise UnknownInstanceType(name, tuple(close))
        return found

    def find(self, name: str) -> InstanceType | None:
        """The instance type called ``name``, or ``None``."""
        return self._types.get(name)

    def names(self) -> tuple[str, ...]:
        """Every known instance type name, in the order of botocore's enum."""
        return tuple(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[InstanceType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)


def _instance_type(entry: Mapping[str, Any]) -> InstanceType:
    accelerators: Mapping[str, Any] = entry.get("accelerators") or {}
    return InstanceType(
        name=str(entry["name"]),
        vcpus=int(entry["vcpus"]),
        memory_mib=int(entry["memory_mib"]),
        accelerator_count=int(accelerators.get("count", 0)),
        accelerator_kind=AcceleratorKind(accelerators.get("kind", AcceleratorKind.NONE)),
        accelerator_name=accelerators.get("name"),
        cores_per_accelerator=accelerators.get("cores_per_accelerator"),
    )


def load_catalog(text: str) -> Catalog:
    """A catalog parsed from the JSON form of ``instance_types.json``."""
    document = json.loads(text)
    types = (_instance_type(entry) for entry in document["instance_types"])
    return Catalog({t.name: t for t in types})


@functools.cache
def default_catalog() -> Catalog:
    """The catalog shipped with moorage, parsed on first use and then shared."""
    text = resources.files("moorage.placement").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return load_catalog(text)
