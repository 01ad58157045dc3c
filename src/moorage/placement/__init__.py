"""Placement: the instance-type catalog and the pure copy scheduler.

``control/`` checks instance types against the catalog; ``deploy/`` asks the
scheduler where copies of inference components go (and which copies leave),
how many instances managed instance scaling needs, and hands the resulting
plan to ``fleet/``, which starts each copy with :func:`visible_devices_env`.
Nothing here does I/O or reads the clock. See ``docs/placement.md``.
"""

from moorage.placement.catalog import (
    AcceleratorKind,
    Catalog,
    InstanceType,
    default_catalog,
    load_catalog,
)
from moorage.placement.devices import neuron_cores_per_device, visible_devices_env
from moorage.placement.errors import (
    DoesNotFit,
    NotEnoughCopies,
    PlacementError,
    UnknownInstanceType,
)
from moorage.placement.model import (
    DEFAULT_STRATEGY,
    Assignment,
    CopyRequest,
    InstanceSlot,
    PlacedCopy,
    Placement,
    Removal,
    Requirements,
    SlotUsage,
    Strategy,
)
from moorage.placement.scaling import (
    Move,
    ScaleIn,
    ScaleInStrategy,
    ScaleOut,
    plan_scale_in,
    plan_scale_out,
)
from moorage.placement.scheduler import place, place_all, remove
from moorage.placement.view import format_table, instance_json, placement_json

__all__ = [
    "DEFAULT_STRATEGY",
    "AcceleratorKind",
    "Assignment",
    "Catalog",
    "CopyRequest",
    "DoesNotFit",
    "InstanceSlot",
    "InstanceType",
    "Move",
    "NotEnoughCopies",
    "PlacedCopy",
    "Placement",
    "PlacementError",
    "Removal",
    "Requirements",
    "ScaleIn",
    "ScaleInStrategy",
    "ScaleOut",
    "SlotUsage",
    "Strategy",
    "UnknownInstanceType",
    "default_catalog",
    "format_table",
    "instance_json",
    "load_catalog",
    "neuron_cores_per_device",
    "place",
    "place_all",
    "placement_json",
    "plan_scale_in",
    "plan_scale_out",
    "remove",
    "visible_devices_env",
]
