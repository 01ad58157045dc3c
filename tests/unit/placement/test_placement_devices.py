"""Environment variables that pin a copy to its accelerator devices."""

from __future__ import annotations

import pytest

from moorage.placement import default_catalog, neuron_cores_per_device, visible_devices_env


def env(type_name: str, indices: tuple[int, ...], **kwargs: int) -> dict[str, str]:
    return visible_devices_env(default_catalog().get(type_name), indices, **kwargs)


def test_nvidia_gpus() -> None:
    assert env("ml.g5.12xlarge", (0, 1)) == {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert env("ml.p4d.24xlarge", (5, 2)) == {"CUDA_VISIBLE_DEVICES": "2,5"}


def test_a_copy_without_devices_on_a_gpu_instance_sees_none() -> None:
    assert env("ml.g5.12xlarge", ()) == {"CUDA_VISIBLE_DEVICES": ""}


@pytest.mark.parametrize(
    ("type_name", "indices", "cores"),
    [
        ("ml.inf2.xlarge", (0,), "0-1"),  # Inferentia2: 2 NeuronCores per device
        ("ml.inf2.24xlarge", (2, 3), "4-7"),
        ("ml.inf1.6xlarge", (1,), "4-7"),  # Inferentia: 4 per device
        ("ml.trn1.32xlarge", (15,), "30-31"),
        ("ml.trn2.48xlarge", (1,), "4-7"),  # Trainium2: 8 physical = 4 logical cores
    ],
)
def test_neuron_devices_become_a_core_range(
    type_name: str, indices: tuple[int, ...], cores: str
) -> None:
    assert env(type_name, indices) == {"NEURON_RT_VISIBLE_CORES": cores}


def test_the_logical_core_size_can_be_overridden() -> None:
    trn2 = default_catalog().get("ml.trn2.48xlarge")
    assert neuron_cores_per_device(trn2) == 4
    assert neuron_cores_per_device(trn2, 1) == 8
    assert env("ml.trn2.48xlarge", (1,), logical_core_size=1) == {"NEURON_RT_VISIBLE_CORES": "8-15"}


def test_a_neuron_copy_without_devices_gets_no_variable() -> None:
    assert env("ml.inf2.xlarge", ()) == {}


def test_neuron_devices_must_be_adjacent_and_in_range() -> None:
    with pytest.raises(ValueError, match="adjacent"):
        env("ml.inf2.24xlarge", (0, 2))
    with pytest.raises(ValueError, match="out of range"):
        env("ml.inf2.xlarge", (1,))


def test_gaudi_and_cpu_types() -> None:
    assert env("ml.dl1.24xlarge", (0, 1)) == {"HABANA_VISIBLE_MODULES": "0,1"}
    assert env("ml.m5.large", ()) == {}
    assert env("ml.c7g.large", ()) == {}
