"""The pure copy scheduler: fitting, strategies, devices, removal, purity."""

from __future__ import annotations

import contextlib
import random

import pytest

from moorage.placement import (
    CopyRequest,
    DoesNotFit,
    InstanceSlot,
    NotEnoughCopies,
    PlacedCopy,
    Requirements,
    Strategy,
    default_catalog,
    place,
    place_all,
    remove,
)
from moorage.placement.model import SlotUsage


def fleet(type_name: str, count: int, prefix: str = "i-") -> tuple[InstanceSlot, ...]:
    kind = default_catalog().get(type_name)
    return tuple(InstanceSlot(f"{prefix}{n}", kind) for n in range(1, count + 1))


def where(placement_assignments: object) -> list[str]:
    assert isinstance(placement_assignments, tuple)
    return [a.instance_id for a in placement_assignments]


def counts(instances: tuple[InstanceSlot, ...], component: str) -> list[int]:
    return [slot.copies_of(component) for slot in instances]


# -- fitting -----------------------------------------------------------------


def test_copies_fit_and_get_sequential_ids() -> None:
    result = place(fleet("ml.m5.xlarge", 3), "model", Requirements(cpus=1, min_memory_mb=1024), 3)
    assert where(result.assignments) == ["i-1", "i-2", "i-3"]
    assert [a.copy.copy_id for a in result.assignments] == ["model-1", "model-2", "model-3"]
    assert counts(result.instances, "model") == [1, 1, 1]


def test_zero_copies_change_nothing() -> None:
    instances = fleet("ml.m5.xlarge", 2)
    result = place(instances, "model", Requirements(cpus=1, min_memory_mb=1), 0)
    assert result.assignments == ()
    assert result.instances == instances


def test_does_not_fit_says_what_did_not_fit_where() -> None:
    instances = fleet("ml.g5.xlarge", 2)  # 4 vCPUs, 16384 MB, 1 GPU each
    busy = place(instances, "other", Requirements(cpus=3.5, accelerators=1, min_memory_mb=4000), 2)
    with pytest.raises(DoesNotFit) as raised:
        place(busy.instances, "x", Requirements(cpus=2, accelerators=1, min_memory_mb=4096), 5)
    error = raised.value
    assert error.message == (
        'Could not place 5 of 5 copies of inference component "x": each copy needs 2 vCPUs,'
        " 1 accelerator device and 4096 MB of memory; instance i-1 (ml.g5.xlarge) has"
        " 0.5 vCPUs, 0 accelerator devices and 12384 MB free; instance i-2 (ml.g5.xlarge)"
        " has 0.5 vCPUs, 0 accelerator devices and 12384 MB free"
    )
    assert (error.component, error.requested, error.placed, error.unplaced) == ("x", 5, 0, 5)


def test_a_partial_fit_reports_how_many_did_not_fit_and_places_none() -> None:
    instances = fleet("ml.m5.large", 2)  # 2 vCPUs each
    with pytest.raises(DoesNotFit) as raised:
        place(instances, "x", Requirements(cpus=1, min_memory_mb=100), 5)
    assert raised.value.placed == 4
    assert raised.value.message.startswith("Could not place 1 of 5 copies of inference component")
    assert "instance i-1 (ml.m5.large) has 0 vCPUs and 7992 MB free" in raised.value.message


def test_many_instances_are_summed_up() -> None:
    instances = fleet("ml.m5.large", 40)
    with pytest.raises(DoesNotFit) as raised:
        place(instances, "x", Requirements(cpus=4, min_memory_mb=100), 1)
    message = raised.value.message
    assert message.count("instance i-") == 5
    assert "and 35 more instances with at most 2 vCPUs, 8192 MB free" in message
    assert "(of all 40 instances, 40 lack vCPUs)" in message


def test_no_instances_at_all() -> None:
    with pytest.raises(DoesNotFit) as raised:
        place((), "x", Requirements(cpus=1, min_memory_mb=100), 2)
    assert raised.value.message.endswith("there are no instances to place them on")


def test_a_failed_placement_leaves_the_input_untouched() -> None:
    instances = place(fleet("ml.g5.12xlarge", 2), "a", Requirements(1, 1, 1024), 3).instances
    snapshot = [(slot, slot.copies, slot.used_millicpus) for slot in instances]
    with pytest.raises(DoesNotFit):
        place(instances, "b", Requirements(cpus=2, accelerators=2, min_memory_mb=1024), 3)
    assert [(slot, slot.copies, slot.used_millicpus) for slot in instances] == snapshot
    again = place(instances, "b", Requirements(cpus=2, accelerators=2, min_memory_mb=1024), 2)
    assert len(again.assignments) == 2


def test_unchanged_instances_are_returned_as_they_were() -> None:
    instances = fleet("ml.m5.xlarge", 3)
    result = place(instances, "a", Requirements(cpus=1, min_memory_mb=1), 1)
    assert result.instances[0] is not instances[0]
    assert result.instances[1] is instances[1] and result.instances[2] is instances[2]


def test_same_input_same_output() -> None:
    instances = fleet("ml.g5.12xlarge", 4)
    first = place(instances, "a", Requirements(0.5, 1, 512), 7, Strategy.SPREAD)
    second = place(instances, "a", Requirements(0.5, 1, 512), 7, Strategy.SPREAD)
    assert first == second


# -- CPU and memory arithmetic -------------------------------------------------


def test_quarter_cpus_add_up_exactly() -> None:
    instances = fleet("ml.t2.medium", 1)  # 2 vCPUs
    quarter = Requirements(cpus=0.25, min_memory_mb=1)
    full = place(instances, "q", quarter, 8)
    assert full.instances[0].free_millicpus == 0
    with pytest.raises(DoesNotFit):
        place(full.instances, "q", quarter, 1)


def test_tenths_do_not_drift() -> None:
    instances = fleet("ml.t2.medium", 1)
    tenth = Requirements(cpus=0.1, min_memory_mb=1)
    assert tenth.millicpus == 100
    full = place(instances, "t", tenth, 20)
    assert full.instances[0].free_millicpus == 0
    with pytest.raises(DoesNotFit):
        place(full.instances, "t", tenth, 1)


def test_cpu_requirements_are_rounded_up_to_a_millicpu() -> None:
    assert Requirements(cpus=1 / 3).millicpus == 334


def test_min_memory_is_reserved_exactly() -> None:
    instances = fleet("ml.m5.large", 1)  # 8192 MB
    half = Requirements(min_memory_mb=4096)
    full = place(instances, "m", half, 2)
    assert full.instances[0].free_memory_mb == 0
    with pytest.raises(DoesNotFit):
        place(full.instances, "m", Requirements(min_memory_mb=1), 1)


def test_max_memory_is_not_reserved_but_must_fit_the_instance() -> None:
    instances = fleet("ml.m5.large", 1)
    capped = Requirements(min_memory_mb=1024, max_memory_mb=8192)
    result = place(instances, "m", capped, 8)  # 8 x 1024 reserved; the ceilings overlap
    assert result.instances[0].free_memory_mb == 0
    with pytest.raises(DoesNotFit) as raised:
        place(instances, "m", Requirements(min_memory_mb=1024, max_memory_mb=8193), 1)
    assert (
        "and only 8192 MB of memory in all, below the copy's maximum of 8193 MB"
        in raised.value.message
    )
    assert "1024 MB of memory (at most 8193 MB)" in raised.value.message


def test_requirements_from_the_api() -> None:
    requirements = Requirements.from_api(
        {
            "NumberOfCpuCoresRequired": 0.25,
            "NumberOfAcceleratorDevicesRequired": 1.5,
            "MinMemoryRequiredInMb": 1024,
            "MaxMemoryRequiredInMb": 2048,
        }
    )
    assert requirements == Requirements(0.25, 2, 1024, 2048)
    assert requirements.millicpus == 250
    assert Requirements.from_api({"MinMemoryRequiredInMb": 128}) == Requirements(0, 0, 128)
    assert Requirements.from_api({"NumberOfAcceleratorDevicesRequired": 1.0}).accelerators == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cpus": -1},
        {"cpus": float("nan")},
        {"accelerators": -1},
        {"min_memory_mb": -5},
        {"min_memory_mb": 10, "max_memory_mb": 5},
    ],
)
def test_impossible_requirements_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Requirements(**kwargs)  # type: ignore[arg-type]


# -- accelerators --------------------------------------------------------------


def test_each_copy_gets_its_own_devices() -> None:
    instances = fleet("ml.g5.12xlarge", 1)  # 4 GPUs
    two = Requirements(cpus=1, accelerators=2, min_memory_mb=1024)
    result = place(instances, "a", two, 2)
    assert [a.copy.accelerator_indices for a in result.assignments] == [(0, 1), (2, 3)]
    with pytest.raises(DoesNotFit) as raised:
        place(result.instances, "a", two, 1)
    assert "0 accelerator devices" in raised.value.message


def test_copies_without_accelerators_take_no_device() -> None:
    result = place(fleet("ml.g5.xlarge", 1), "cpu", Requirements(cpus=1, min_memory_mb=1), 3)
    assert all(a.copy.accelerator_indices == () for a in result.assignments)
    assert result.instances[0].free_accelerators == (0,)


def test_accelerators_on_a_cpu_instance_never_fit() -> None:
    with pytest.raises(DoesNotFit) as raised:
        place(fleet("ml.m5.xlarge", 1), "g", Requirements(accelerators=1, min_memory_mb=1), 1)
    assert "has 4 vCPUs, 0 accelerator devices and 16384 MB free" in raised.value.message


def test_devices_come_from_the_smallest_free_run_that_holds_them() -> None:
    kind = default_catalog().get("ml.g5.48xlarge")  # 8 GPUs
    copies = (
        PlacedCopy("x-1", "x", Requirements(accelerators=1), (2,)),
        PlacedCopy("x-2", "x", Requirements(accelerators=1), (5,)),
    )
    instances = (InstanceSlot("i-1", kind, copies),)  # free runs: 0-1, 3-4, 6-7
    result = place(instances, "a", Requirements(accelerators=2), 1)
    assert result.assignments[0].copy.accelerator_indices == (0, 1)
    single = place(result.instances, "b", Requirements(accelerators=1), 1)
    assert single.assignments[0].copy.accelerator_indices == (3,)


def test_gpus_may_be_scattered_but_neuron_devices_must_be_adjacent() -> None:
    def holes(type_name: str) -> tuple[InstanceSlot, ...]:
        kind = default_catalog().get(type_name)
        copies = tuple(
            PlacedCopy(f"x-{d}", "x", Requirements(accelerators=1), (d,)) for d in (1, 3, 5)
        )
        return (InstanceSlot("i-1", kind, copies),)

    gpu = place(holes("ml.g5.48xlarge"), "a", Requirements(accelerators=3), 1)
    assert gpu.assignments[0].copy.accelerator_indices == (0, 2, 4)  # no run of 3 is free
    with pytest.raises(DoesNotFit) as raised:
        place(holes("ml.inf2.24xlarge"), "a", Requirements(accelerators=2), 1)  # 6 devices
    assert "has 96 vCPUs, 3 accelerator devices and 393216 MB free" in raised.value.message
    assert "but no 2 adjacent devices (free: 0,2,4)" in raised.value.message


# -- strategies ----------------------------------------------------------------


def test_spread_puts_one_copy_per_instance_and_binpack_fills_one() -> None:
    instances = fleet("ml.m5.xlarge", 4)
    small = Requirements(cpus=1, min_memory_mb=1024)
    spread = place(instances, "a", small, 4, Strategy.SPREAD)
    assert counts(spread.instances, "a") == [1, 1, 1, 1]
    binpack = place(instances, "a", small, 4, Strategy.BINPACK)
    assert counts(binpack.instances, "a") == [4, 0, 0, 0]
    more = place(instances, "a", small, 6, Strategy.BINPACK)
    assert counts(more.instances, "a") == [4, 2, 0, 0]


def test_binpack_prefers_the_most_loaded_instance_that_fits() -> None:
    instances = fleet("ml.m5.xlarge", 3)
    loaded = place(instances, "big", Requirements(cpus=3, min_memory_mb=1), 1).instances
    loaded = place(loaded, "half", Requirements(cpus=2, min_memory_mb=1), 1).instances
    assert counts(loaded, "big") == [1, 0, 0] and counts(loaded, "half") == [0, 1, 0]
    # i-1 is the most loaded but has 1 vCPU left; i-2 is next with 2 left.
    result = place(loaded, "c", Requirements(cpus=2, min_memory_mb=1), 1, Strategy.BINPACK)
    assert where(result.assignments) == ["i-2"]
    tiny = place(loaded, "d", Requirements(cpus=1, min_memory_mb=1), 1, Strategy.BINPACK)
    assert where(tiny.assignments) == ["i-1"]


def test_spread_balances_the_component_first_then_load() -> None:
    instances = fleet("ml.m5.xlarge", 3)
    loaded = place(instances, "other", Requirements(cpus=2, min_memory_mb=1), 1).instances
    result = place(loaded, "a", Requirements(cpus=1, min_memory_mb=1), 4, Strategy.SPREAD)
    # The first copies avoid the loaded i-1; the fourth goes to the least loaded again.
    assert where(result.assignments) == ["i-2", "i-3", "i-1", "i-2"]
    assert counts(result.instances, "a") == [1, 2, 1]


def test_spread_skips_instances_that_cannot_take_a_copy() -> None:
    instances = fleet("ml.m5.large", 3)
    full = place(instances, "f", Requirements(cpus=2, min_memory_mb=1), 1).instances
    result = place(full, "a", Requirements(cpus=1, min_memory_mb=1), 4, Strategy.SPREAD)
    assert counts(result.instances, "a") == [0, 2, 2]


# -- several requests, copy ids, input checks --------------------------------


def test_place_all_is_all_or_nothing() -> None:
    instances = fleet("ml.m5.large", 2)
    ok = CopyRequest("a", Requirements(cpus=1, min_memory_mb=1), 2)
    too_many = CopyRequest("b", Requirements(cpus=1, min_memory_mb=1), 3)
    with pytest.raises(DoesNotFit) as raised:
        place_all(instances, [ok, too_many])
    assert raised.value.component == "b" and raised.value.placed == 2
    both = place_all(instances, [ok, CopyRequest("b", Requirements(cpus=1, min_memory_mb=1), 2)])
    assert [a.copy.component for a in both.assignments] == ["a", "a", "b", "b"]


def test_explicit_copy_ids_are_used() -> None:
    result = place(
        fleet("ml.m5.large", 2), "a", Requirements(min_memory_mb=1), 2, copy_ids=["p", "q"]
    )
    assert [a.copy.copy_id for a in result.assignments] == ["p", "q"]
    with pytest.raises(ValueError):
        place(result.instances, "a", Requirements(min_memory_mb=1), 1, copy_ids=["p"])
    with pytest.raises(ValueError):
        place(result.instances, "a", Requirements(min_memory_mb=1), 2, copy_ids=["z"])


def test_generated_ids_continue_past_existing_ones() -> None:
    first = place(fleet("ml.m5.large", 1), "a", Requirements(min_memory_mb=1), 2)
    trimmed = remove(first.instances, "a", 1)  # removes a-2, the newest
    assert [a.copy.copy_id for a in trimmed.removed] == ["a-2"]
    again = place(trimmed.instances, "a", Requirements(min_memory_mb=1), 2)
    assert [a.copy.copy_id for a in again.assignments] == ["a-2", "a-3"]
    taken = place(first.instances, "b", Requirements(min_memory_mb=1), 1, copy_ids=["c-1"])
    assert place(taken.instances, "c", Requirements(), 1).assignments[0].copy.copy_id == "c-2"


def test_inconsistent_instances_are_refused() -> None:
    kind = default_catalog().get("ml.g5.xlarge")
    with pytest.raises(ValueError, match="listed twice"):
        place((InstanceSlot("i", kind), InstanceSlot("i", kind)), "a", Requirements(), 1)
    clash = (
        PlacedCopy("x-1", "x", Requirements(accelerators=1), (0,)),
        PlacedCopy("x-2", "x", Requirements(accelerators=1), (0,)),
    )
    with pytest.raises(ValueError, match="already held"):
        place((InstanceSlot("i", kind, clash),), "a", Requirements(), 1)
    same_id = (PlacedCopy("x-1", "x", Requirements()),)
    with pytest.raises(ValueError, match="two instances"):
        place(
            (InstanceSlot("i", kind, same_id), InstanceSlot("j", kind, same_id)),
            "a",
            Requirements(),
            1,
        )


# -- removal -------------------------------------------------------------------


def _uneven() -> tuple[InstanceSlot, ...]:
    instances = fleet("ml.m5.xlarge", 3)
    small = Requirements(cpus=0.5, min_memory_mb=1)
    instances = place(instances, "a", small, 3, Strategy.BINPACK).instances  # i-1: 3
    instances = place(instances, "a", small, 1, Strategy.BINPACK).instances  # i-1: 4
    return place(instances, "a", small, 2, Strategy.SPREAD).instances  # i-2, i-3: 1 each


def test_spread_removal_takes_from_the_instance_with_most_copies() -> None:
    instances = _uneven()
    assert counts(instances, "a") == [4, 1, 1]
    result = remove(instances, "a", 2, Strategy.SPREAD)
    assert counts(result.instances, "a") == [2, 1, 1]
    assert [a.copy.copy_id for a in result.removed] == ["a-4", "a-3"]  # newest first


def test_binpack_removal_empties_the_instances_with_fewest_copies() -> None:
    instances = _uneven()
    result = remove(instances, "a", 2, Strategy.BINPACK)
    assert counts(result.instances, "a") == [4, 0, 0]
    assert [a.instance_id for a in result.removed] == ["i-3", "i-2"]


def test_removal_frees_devices_and_capacity() -> None:
    placed = place(fleet("ml.g5.12xlarge", 1), "a", Requirements(1, 2, 1024), 2)
    result = remove(placed.instances, "a", 1)
    assert result.removed[0].copy.accelerator_indices == (2, 3)
    slot = result.instances[0]
    assert (slot.free_accelerators, slot.free_millicpus) == ((2, 3), 47_000)
    assert place(result.instances, "b", Requirements(accelerators=2), 1).assignments[
        0
    ].copy.accelerator_indices == (2, 3)


def test_removing_more_than_exist_is_refused() -> None:
    placed = place(fleet("ml.m5.large", 1), "a", Requirements(min_memory_mb=1), 2)
    with pytest.raises(NotEnoughCopies) as raised:
        remove(placed.instances, "a", 3)
    assert raised.value.message == (
        'Cannot remove 3 copies of inference component "a": only 2 exist'
    )
    assert remove(placed.instances, "a", 0).instances == placed.instances


# -- invariants under random operations ----------------------------------------


def test_random_operations_keep_every_instance_consistent() -> None:
    rng = random.Random(1234)
    kinds = ["ml.g5.12xlarge", "ml.inf2.24xlarge", "ml.m5.xlarge"]
    instances = tuple(
        InstanceSlot(f"i-{n}", default_catalog().get(rng.choice(kinds))) for n in range(8)
    )
    components = [f"c{n}" for n in range(5)]
    for _ in range(300):
        component = rng.choice(components)
        strategy = rng.choice(list(Strategy))
        if rng.random() < 0.6:
            requirements = Requirements(
                cpus=rng.choice([0.25, 0.5, 1]),
                accelerators=rng.choice([0, 0, 1, 2]),
                min_memory_mb=rng.choice([256, 1024]),
            )
            with contextlib.suppress(DoesNotFit):
                instances = place(
                    instances, component, requirements, rng.randint(1, 4), strategy
                ).instances
        else:
            existing = sum(slot.copies_of(component) for slot in instances)
            if existing:
                count = rng.randint(1, existing)
                instances = remove(instances, component, count, strategy).instances
        for slot in instances:
            recomputed = SlotUsage.of(slot.instance_id, slot.instance_type, slot.copies)
            assert slot.usage == recomputed
            assert slot.free_millicpus >= 0 and slot.free_memory_mb >= 0
            if slot.instance_type.cores_per_accelerator:  # Neuron: adjacent devices
                for copy in slot.copies:
                    devices = copy.accelerator_indices
                    if devices:
                        assert devices == tuple(range(devices[0], devices[0] + len(devices)))
