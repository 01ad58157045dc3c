"""The Ray fleet's pure pieces: instance bundles, actor shares, reattach keys, namespaces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from moorage.deploy.copy_placement import of_instance
from moorage.domain.model import ModelData
from moorage.fleet.base import CopyPlacement, CopySpec
from moorage.fleet.ray.cluster import namespace_of
from moorage.fleet.ray.fleet import reattach_key
from moorage.fleet.ray.instances import actor_resources, bundle_of, group_name
from moorage.placement import default_catalog

GIB = 1024**3


def placement(instance_type: str, reserved_accelerators: int | None = None) -> CopyPlacement:
    kind = default_catalog().get(instance_type)
    return dataclasses.replace(
        of_instance(kind, "i-1"), reserved_accelerators=reserved_accelerators
    )


def test_g5_12xlarge_is_a_bundle_of_its_vcpus_memory_and_four_gpus() -> None:
    shape = bundle_of(placement("ml.g5.12xlarge"))
    assert shape.bundle == {"CPU": 48.0, "memory": 192.0 * GIB, "GPU": 4.0}
    assert shape.describe() == "48 CPU, 196608 MiB memory, 4 GPU"
    # A variant's copy takes every GPU of its instance; a component's copy what it reserved.
    assert actor_resources(shape, placement("ml.g5.12xlarge")) == {"GPU": 4.0}
    shared = placement("ml.g5.12xlarge", reserved_accelerators=1)
    assert actor_resources(shape, shared) == {"GPU": 1.0}


def test_neuron_and_gaudi_instances_ask_for_their_own_resources() -> None:
    inf2 = bundle_of(placement("ml.inf2.xlarge"))
    assert inf2.bundle["neuron_cores"] == 2.0  # one device of two NeuronCores
    assert actor_resources(inf2, placement("ml.inf2.xlarge", reserved_accelerators=1)) == {
        "neuron_cores": 2.0
    }
    assert bundle_of(placement("ml.dl1.24xlarge")).bundle["HPU"] == 8.0


def test_cpu_instances_take_nothing_from_their_bundle() -> None:
    shape = bundle_of(placement("ml.c5.large"))
    assert shape.bundle == {"CPU": 2.0, "memory": 4.0 * GIB}
    assert actor_resources(shape, placement("ml.c5.large")) == {}


def test_a_serverless_copy_is_one_cpu_and_its_memory() -> None:
    shape = bundle_of(CopyPlacement("s-1", memory_mib=2048))
    assert shape.bundle == {"CPU": 1.0, "memory": 2.0 * GIB}
    assert bundle_of(None).bundle == {"CPU": 1.0}


def spec(copy_id: str, **changes: object) -> CopySpec:
    base = CopySpec(
        copy_id=copy_id,
        endpoint="ep",
        variant="AllTraffic",
        image="image",
        model_data=ModelData("s3://bucket/model.tar.gz"),
        environment={"A": "1", "B": "2"},
        log_stream="AllTraffic/i-1",
        placement=placement("ml.c5.large"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_copies_that_differ_only_by_id_are_interchangeable_on_reattach() -> None:
    assert reattach_key(spec("ep-a-0")) == reattach_key(spec("ep-a-7"))
    assert reattach_key(spec("x", environment={"B": "2", "A": "1"})) == reattach_key(spec("y"))
    assert reattach_key(spec("x", environment={"A": "2"})) != reattach_key(spec("x"))
    assert reattach_key(spec("x", image="other")) != reattach_key(spec("x"))
    assert reattach_key(spec("x", model_data=ModelData("s3://b/v2.tar.gz"))) != reattach_key(
        spec("x")
    )


def test_namespaces_and_group_names_are_stable_and_distinct(tmp_path: Path) -> None:
    assert namespace_of(tmp_path / "a") == namespace_of(tmp_path / "a" / ".." / "a")
    assert namespace_of(tmp_path / "a") != namespace_of(tmp_path / "b")
    assert group_name("ns", "ep", "i-1") == group_name("ns", "ep", "i-1")
    assert group_name("ns", "ep", "i-1") != group_name("ns", "ep", "i-2")
    assert group_name("ns", "ep", "i-1").startswith("ns-instance-")
