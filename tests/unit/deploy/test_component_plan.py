"""Planning component copies on a variant: placing, scaling out and in, persisting."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.deploy.component_plan import (
    ScalingLimits,
    add_copies,
    drop_copies,
    initial_capacity,
    remove_copies,
    scaling_limits,
    with_instance_count,
)
from moorage.domain.component_placement import (
    EndpointPlacement,
    VariantCapacity,
    placement_from_record,
)
from moorage.domain.endpoint import Endpoint, EndpointStatus, Group, VariantState
from moorage.domain.endpoint_config import variant_from_spec
from moorage.placement import DoesNotFit, Requirements, Strategy, default_catalog

M5_XL = default_catalog().get("ml.m5.xlarge")  # 4 vCPUs, 16384 MB
G5_12X = default_catalog().get("ml.g5.12xlarge")  # 48 vCPUs, 4 GPUs
ONE_CPU = Requirements(cpus=1, min_memory_mb=1024)


def _ids(capacity: VariantCapacity) -> dict[str, list[str]]:
    return {s.instance_id: [c.copy_id for c in s.copies] for s in capacity.instances}


def test_copies_are_placed_with_the_generation_they_run() -> None:
    capacity = initial_capacity("AllTraffic", M5_XL, 2)
    placed = add_copies(capacity, "a", ONE_CPU, 3, Strategy.SPREAD, generation=1, limits=None)
    assert _ids(placed) == {"instance-1": ["a-1", "a-3"], "instance-2": ["a-2"]}
    newer = add_copies(placed, "a", ONE_CPU, 1, Strategy.BINPACK, generation=2, limits=None)
    assert newer.generations == {"a-1": 1, "a-2": 1, "a-3": 1, "a-4": 2}
    assert capacity.instances[0].copies == ()  # the input is never modified


def test_copies_that_do_not_fit_change_nothing_and_say_where() -> None:
    capacity = add_copies(
        initial_capacity("v", M5_XL, 1), "a", ONE_CPU, 3, Strategy.SPREAD, generation=1, limits=None
    )
    with pytest.raises(DoesNotFit) as caught:
        add_copies(capacity, "b", ONE_CPU, 2, Strategy.SPREAD, generation=1, limits=None)
    assert 'Could not place 1 of 2 copies of inference component "b"' in caught.value.message
    assert "instance instance-1 (ml.m5.xlarge) has 0 vCPUs" in caught.value.message
    assert _ids(capacity) == {"instance-1": ["a-1", "a-2", "a-3"]}


def test_managed_scaling_adds_instances_up_to_the_maximum() -> None:
    capacity = initial_capacity("v", M5_XL, 1)
    limits = ScalingLimits(min_instances=1, max_instances=3)
    grown = add_copies(capacity, "a", ONE_CPU, 10, Strategy.SPREAD, generation=1, limits=limits)
    assert [s.instance_id for s in grown.instances] == ["instance-1", "instance-2", "instance-3"]
    assert sum(len(s.copies) for s in grown.instances) == 10
    with pytest.raises(DoesNotFit) as caught:
        add_copies(grown, "b", ONE_CPU, 3, Strategy.SPREAD, generation=1, limits=limits)
    assert "with the variant at its maximum of 3 instances" in caught.value.message


def test_idle_instances_are_released_down_to_the_minimum() -> None:
    limits = ScalingLimits(min_instances=1, max_instances=4)
    grown = add_copies(
        initial_capacity("v", M5_XL, 1),
        "a",
        ONE_CPU,
        12,
        Strategy.BINPACK,
        generation=1,
        limits=limits,
    )
    assert len(grown.instances) == 3
    shrunk = remove_copies(grown, "a", 8, Strategy.BINPACK, limits=limits)
    assert [len(s.copies) for s in shrunk.instances] == [4]
    emptied = drop_copies(shrunk, [c.copy_id for c in shrunk.instances[0].copies], limits=limits)
    assert len(emptied.instances) == 1 and emptied.instances[0].copies == ()
    assert emptied.generations == {}


def test_without_managed_scaling_instances_stay() -> None:
    capacity = add_copies(
        initial_capacity("v", M5_XL, 2), "a", ONE_CPU, 2, Strategy.SPREAD, generation=1, limits=None
    )
    after = drop_copies(capacity, ["a-1", "a-2"], limits=None)
    assert _ids(after) == {"instance-1": [], "instance-2": []}


def _variant(**scaling: Any) -> Any:
    spec: dict[str, Any] = {
        "VariantName": "v",
        "InstanceType": "ml.m5.xlarge",
        "InitialInstanceCount": 2,
    }
    if scaling:
        spec["ManagedInstanceScaling"] = scaling
    return variant_from_spec(spec)


def test_scaling_limits_default_to_the_initial_instance_count() -> None:
    assert scaling_limits(_variant()) is None
    assert scaling_limits(_variant(Status="DISABLED", MaxInstanceCount=5)) is None
    assert scaling_limits(_variant(Status="ENABLED", MaxInstanceCount=5)) == ScalingLimits(2, 5)
    assert scaling_limits(_variant(Status="ENABLED", MinInstanceCount=0)) == ScalingLimits(0, 2)


def test_a_placement_survives_its_record() -> None:
    capacity = add_copies(
        initial_capacity("g", G5_12X, 2),
        "llm",
        Requirements(cpus=0.25, accelerators=2, min_memory_mb=4096, max_memory_mb=8192),
        3,
        Strategy.SPREAD,
        generation=4,
        limits=None,
    )
    placement = EndpointPlacement("ep", "arn:ep", 12.5, (capacity,))
    restored = placement_from_record(placement.to_record(13.0))
    assert restored == placement
    placed = {
        c.copy.copy_id: (c.instance_id, c.copy.accelerator_indices)
        for c in restored.copies_of("llm")
    }
    assert placed == {
        "llm-1": ("instance-1", (0, 1)),
        "llm-2": ("instance-2", (0, 1)),
        "llm-3": ("instance-1", (2, 3)),
    }
    assert {c.generation for c in restored.copies_of("llm")} == {4}


def test_instance_counts_follow_the_variant() -> None:
    endpoint = Endpoint(
        name="ep",
        arn="arn:ep",
        created=1.0,
        modified=1.0,
        config_name="c",
        status=EndpointStatus.IN_SERVICE,
        variants=(VariantState("v", 1.0, 1.0, 1), VariantState("w", 1.0, 1.0, 1)),
        groups=(Group("g1", "c", "v", "ml.m5.xlarge", 1, 1, 1.0),),
    )
    scaled = with_instance_count(endpoint, "v", 3)
    assert [v.desired_count for v in scaled.variants] == [3, 1]
    assert (scaled.groups[0].target, scaled.groups[0].active) == (3, 3)
