"""The environment that pins a copy's model server to its accelerator devices.

The scheduler hands each copy device indices (``PlacedCopy.accelerator_indices``);
``fleet/`` starts the copy's process with :func:`visible_devices_env` merged
into its environment, so that two copies on one instance never share a device:

- NVIDIA GPUs: ``CUDA_VISIBLE_DEVICES=0,1``;
- Inferentia / Trainium: ``NEURON_RT_VISIBLE_CORES=0-3``, the range of
  NeuronCores that make up those devices;
- Habana Gaudi: ``HABANA_VISIBLE_MODULES=0,1``;
- CPU-only instance types: nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from moorage.placement.catalog import AcceleratorKind, InstanceType

# The Neuron runtime numbers *logical* NeuronCores. On Trainium2 it groups two
# physical cores into one logical core by default (NEURON_LOGICAL_NC_CONFIG=2),
# so a Trainium2 device shows 4 cores, not its 8 physical ones.
DEFAULT_LOGICAL_CORE_SIZE = {"AWS Trainium2": 2}


def neuron_cores_per_device(
    instance_type: InstanceType, logical_core_size: int | None = None
) -> int:
    """NeuronCores the runtime addresses per device of ``instance_type``."""
    physical = instance_type.cores_per_accelerator or 0
    if logical_core_size is None:
        logical_core_size = DEFAULT_LOGICAL_CORE_SIZE.get(instance_type.accelerator_name or "", 1)
    return max(1, physical // logical_core_size)


def visible_devices_env(
    instance_type: InstanceType,
    indices: Sequence[int],
    *,
    logical_core_size: int | None = None,
) -> dict[str, str]:
    """Environment variables that limit a process to the devices ``indices``.

    On a GPU or Gaudi instance a copy that reserved no device gets an empty
    list, which hides every device: it must not use one reserved by another
    copy. Neuron devices must be adjacent (the scheduler places them so),
    since ``NEURON_RT_VISIBLE_CORES`` takes a single range; a copy without
    Neuron devices gets no variable. ``logical_core_size`` overrides the
    runtime's default grouping of physical NeuronCores (see
    ``NEURON_LOGICAL_NC_CONFIG``).
    """
    devices = sorted(indices)
    if any(not 0 <= d < instance_type.accelerator_count for d in devices):
        raise ValueError(f"device indices {devices} out of range for {instance_type.name}")
    kind = instance_type.accelerator_kind
    listed = ",".join(str(d) for d in devices)
    if kind is AcceleratorKind.NVIDIA_GPU:
        return {"CUDA_VISIBLE_DEVICES": listed}
    if kind is AcceleratorKind.HABANA_GAUDI:
        return {"HABANA_VISIBLE_MODULES": listed}
    if kind is AcceleratorKind.NEURON and devices:
        if devices != list(range(devices[0], devices[0] + len(devices))):
            raise ValueError(f"Neuron devices must be adjacent, not {devices}")
        per_device = neuron_cores_per_device(instance_type, logical_core_size)
        first = devices[0] * per_device
        last = (devices[-1] + 1) * per_device - 1
        cores = str(first) if first == last else f"{first}-{last}"
        return {"NEURON_RT_VISIBLE_CORES": cores}
    return {}
