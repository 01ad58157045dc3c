"""Managed instance scaling plans: how many instances to add, which to release."""

from __future__ import annotations

import pytest

from moorage.placement import (
    CopyRequest,
    DoesNotFit,
    InstanceSlot,
    Requirements,
    ScaleInStrategy,
    Strategy,
    default_catalog,
    place,
    plan_scale_in,
    plan_scale_out,
)

G5_12X = default_catalog().get("ml.g5.12xlarge")  # 48 vCPUs, 196608 MB, 4 GPUs
ONE_GPU = Requirements(cpus=4, accelerators=1, min_memory_mb=8192)


def fleet(count: int) -> tuple[InstanceSlot, ...]:
    return tuple(InstanceSlot(f"i-{n}", G5_12X) for n in range(1, count + 1))


def test_nothing_is_added_when_the_copies_fit() -> None:
    plan = plan_scale_out(
        fleet(1), G5_12X, [CopyRequest("a", ONE_GPU, 4)], min_instances=1, max_instances=5
    )
    assert plan.add == 0 and plan.new_instance_ids == ()
    assert len(plan.placement.assignments) == 4


def test_the_fewest_instances_that_hold_every_copy_are_added() -> None:
    requests = [
        CopyRequest("a", ONE_GPU, 10),
        CopyRequest("b", Requirements(cpus=1, min_memory_mb=2048), 20, Strategy.BINPACK),
    ]
    plan = plan_scale_out(fleet(1), G5_12X, requests, min_instances=1, max_instances=10)
    assert plan.new_instance_ids == ("instance-2", "instance-3")  # 10 GPUs need 3 instances
    instances = plan.placement.instances
    assert [slot.instance_id for slot in instances] == ["i-1", "instance-2", "instance-3"]
    assert sum(slot.copies_of("a") for slot in instances) == 10
    assert sum(slot.copies_of("b") for slot in instances) == 20


def test_fragmentation_is_taken_into_account() -> None:
    # Three 3-GPU copies: 9 GPUs would fit 3 instances by count, but each
    # instance holds only one such copy.
    three = Requirements(accelerators=3, min_memory_mb=1024)
    plan = plan_scale_out(
        (), G5_12X, [CopyRequest("a", three, 3)], min_instances=0, max_instances=9
    )
    assert plan.add == 3


def test_existing_copies_are_counted() -> None:
    busy = place(fleet(2), "old", Requirements(accelerators=4, min_memory_mb=1), 2).instances
    plan = plan_scale_out(
        busy, G5_12X, [CopyRequest("a", ONE_GPU, 1)], min_instances=1, max_instances=4
    )
    assert plan.add == 1
    assert plan.placement.assignments[0].instance_id == "instance-3"


def test_the_variant_is_topped_up_to_its_minimum() -> None:
    plan = plan_scale_out(fleet(1), G5_12X, [], min_instances=3, max_instances=5)
    assert plan.new_instance_ids == ("instance-2", "instance-3")


def test_new_instance_names_can_be_chosen_and_never_clash() -> None:
    existing = (InstanceSlot("node-2", G5_12X),)
    plan = plan_scale_out(
        existing,
        G5_12X,
        [CopyRequest("a", ONE_GPU, 9)],
        min_instances=1,
        max_instances=4,
        new_instance_id=lambda n: f"node-{n}",
    )
    assert plan.new_instance_ids == ("node-3", "node-4")


def test_too_many_copies_for_the_maximum_fail_with_the_reason() -> None:
    with pytest.raises(DoesNotFit) as raised:
        plan_scale_out(
            fleet(1), G5_12X, [CopyRequest("a", ONE_GPU, 10)], min_instances=1, max_instances=2
        )
    message = raised.value.message
    assert message.startswith('Could not place 2 of 10 copies of inference component "a"')
    assert message.endswith("(with the variant at its maximum of 2 instances)")


def test_a_copy_bigger_than_an_instance_fails_at_once() -> None:
    five = Requirements(accelerators=5, min_memory_mb=1)
    with pytest.raises(DoesNotFit) as raised:
        plan_scale_out((), G5_12X, [CopyRequest("z", five, 1)], min_instances=0, max_instances=50)
    assert raised.value.message == (
        'Could not place 1 of 1 copies of inference component "z": each copy needs'
        " 5 accelerator devices and 1 MB of memory, which even an empty ml.g5.12xlarge"
        " (48 vCPUs, 4 accelerator devices, 196608 MB) cannot hold, so no number of"
        " instances up to the maximum of 50 can"
    )


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        plan_scale_out((), G5_12X, [], min_instances=3, max_instances=2)
    with pytest.raises(ValueError):
        plan_scale_in((), min_instances=0, max_step_size=0)


def test_scale_out_leaves_its_input_untouched() -> None:
    instances = fleet(1)
    before = [(slot, slot.copies) for slot in instances]
    plan_scale_out(
        instances, G5_12X, [CopyRequest("a", ONE_GPU, 9)], min_instances=1, max_instances=9
    )
    assert [(slot, slot.copies) for slot in instances] == before


# -- scale in ----------------------------------------------------------------


def _mixed() -> tuple[InstanceSlot, ...]:
    """i-1 busy, i-2 with one small copy, i-3 and i-4 idle."""
    instances = fleet(4)
    instances = place(instances, "a", ONE_GPU, 3, Strategy.BINPACK).instances
    return place(
        instances, "b", Requirements(cpus=1, min_memory_mb=1024), 1, Strategy.SPREAD
    ).instances


def test_idle_release_frees_idle_instances_last_first() -> None:
    instances = _mixed()
    assert [len(slot.copies) for slot in instances] == [3, 1, 0, 0]
    plan = plan_scale_in(instances, min_instances=1)
    assert plan.release == ("i-4", "i-3")
    assert plan.moves == ()
    assert [slot.instance_id for slot in plan.instances] == ["i-1", "i-2"]


def test_idle_release_respects_the_minimum() -> None:
    plan = plan_scale_in(_mixed(), min_instances=3)
    assert plan.release == ("i-4",)
    assert plan_scale_in(_mixed(), min_instances=4).release == ()


def test_consolidation_moves_copies_off_lightly_loaded_instances() -> None:
    instances = _mixed()
    plan = plan_scale_in(instances, min_instances=1, strategy=ScaleInStrategy.CONSOLIDATION)
    assert plan.release == ("i-4", "i-3", "i-2")
    assert len(plan.moves) == 1
    move = plan.moves[0]
    assert (move.copy_id, move.component, move.source, move.target) == ("b-1", "b", "i-2", "i-1")
    assert [slot.instance_id for slot in plan.instances] == ["i-1"]
    assert plan.instances[0].copies_of("b") == 1


def test_consolidation_honours_the_step_size_and_the_minimum() -> None:
    spread = place(fleet(4), "a", Requirements(cpus=1, min_memory_mb=1024), 4).instances
    one = plan_scale_in(spread, min_instances=1, strategy=ScaleInStrategy.CONSOLIDATION)
    assert len(one.release) == 1  # AWS's default MaximumStepSize is 1
    three = plan_scale_in(
        spread, min_instances=2, strategy=ScaleInStrategy.CONSOLIDATION, max_step_size=3
    )
    assert len(three.release) == 2
    assert sum(slot.copies_of("a") for slot in three.instances) == 4


def test_consolidation_keeps_instances_whose_copies_fit_nowhere_else() -> None:
    full = place(fleet(3), "a", Requirements(accelerators=3, min_memory_mb=1), 3).instances
    plan = plan_scale_in(
        full, min_instances=1, strategy=ScaleInStrategy.CONSOLIDATION, max_step_size=3
    )
    assert plan.release == () and plan.moves == ()
    assert plan.instances == full


def test_consolidated_devices_are_valid_on_the_target() -> None:
    instances = place(fleet(2), "a", ONE_GPU, 2, Strategy.SPREAD).instances
    plan = plan_scale_in(instances, min_instances=1, strategy=ScaleInStrategy.CONSOLIDATION)
    assert plan.release == ("i-2",)
    assert plan.moves[0].accelerator_indices == (1,)
    assert plan.instances[0].used_accelerators == (0, 1)
