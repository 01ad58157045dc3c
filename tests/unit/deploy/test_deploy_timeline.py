"""Timelines: every step of every policy keeps traffic on instances that exist."""

from __future__ import annotations

import itertools

import pytest

from moorage.deploy.policy import BlueGreen, Rolling, Routing, Size, SizeType
from moorage.deploy.timeline import (
    Fleet,
    Layout,
    Step,
    blue_green_steps,
    blue_layouts,
    capacity_steps,
    rollback_steps,
    rolling_steps,
    total_wait_s,
)


def assert_sound(layout: Layout) -> None:
    """What every layout must satisfy, whatever the policy."""
    counts = (layout.blue_target, layout.blue_active, layout.green_target, layout.green_active)
    assert min(counts) >= 0, layout
    assert layout.blue_active <= layout.blue_target, layout
    assert layout.green_active <= layout.green_target, layout
    assert 0.0 <= layout.green_share <= 1.0, layout
    if layout.green_share > 0:
        assert layout.green_active > 0, layout
    if layout.green_share < 1:
        assert layout.blue_active > 0, layout


def blue_green(
    routing: Routing, size: Size | None = None, wait: int = 0, term: int = 0
) -> BlueGreen:
    return BlueGreen(
        routing,
        wait,
        size if routing is Routing.CANARY else None,
        size if routing is Routing.LINEAR else None,
        term,
        28800,
    )


SIZES = [
    Size(SizeType.INSTANCE_COUNT, 1),
    Size(SizeType.INSTANCE_COUNT, 2),
    Size(SizeType.CAPACITY_PERCENT, 10),
    Size(SizeType.CAPACITY_PERCENT, 25),
    Size(SizeType.CAPACITY_PERCENT, 50),
]
FLEETS = [(1, 1), (2, 2), (4, 4), (3, 7), (8, 2), (10, 10)]


@pytest.mark.parametrize(
    ("routing", "size"),
    [(Routing.ALL_AT_ONCE, None)]
    + [(r, s) for r in (Routing.CANARY, Routing.LINEAR) for s in SIZES],
)
@pytest.mark.parametrize(("blue", "green"), FLEETS)
def test_blue_green_invariants(routing: Routing, size: Size | None, blue: int, green: int) -> None:
    steps = blue_green_steps(blue_green(routing, size, wait=60, term=30), {"v": Fleet(blue, green)})
    for step in steps:
        assert_sound(step.layouts["v"])
    first, last = steps[0].layouts["v"], steps[-1].layouts["v"]
    # The new fleet is provisioned before any traffic moves.
    assert first == Layout(blue, blue, green, 0, 0.0)
    assert steps[0].status == "Creating" and not steps[0].monitor
    # It ends all green, blue gone.
    assert last == Layout(0, 0, green, green, 1.0)
    # Shares never go backwards.
    shares = [s.layouts["v"].green_share for s in steps]
    assert shares == sorted(shares)
    # Exactly one step switches the endpoint to the new variants.
    assert sum(s.switch for s in steps) == 1
    # The termination wait keeps the old fleet running but idle.
    waits = [s for s in steps if s.name.startswith("Wait before terminating")]
    assert len(waits) == 1 and waits[0].wait_s == 30
    assert waits[0].layouts["v"].blue_target == blue and waits[0].layouts["v"].blue_active == 0


def test_canary_moves_its_share_then_the_rest() -> None:
    update = blue_green(Routing.CANARY, Size(SizeType.INSTANCE_COUNT, 1), wait=300)
    steps = blue_green_steps(update, {"v": Fleet(4, 4)})
    assert [s.name for s in steps] == [
        "Provision the new fleet",
        "Canary: 1 of traffic",
        "All traffic to the new fleet",
        "Terminate the old fleet",
    ]
    assert steps[1].layouts["v"] == Layout(4, 4, 4, 1, 0.25)
    assert steps[1].monitor and steps[1].wait_s == 300
    assert total_wait_s(steps) == 600


def test_linear_steps_shift_traffic_and_retire_blue() -> None:
    update = blue_green(Routing.LINEAR, Size(SizeType.CAPACITY_PERCENT, 25), wait=10)
    steps = blue_green_steps(update, {"v": Fleet(4, 4)})
    linear = [s.layouts["v"] for s in steps if s.name.startswith("Linear step")]
    assert linear == [
        Layout(4, 3, 4, 1, 0.25),
        Layout(4, 2, 4, 2, 0.5),
        Layout(4, 1, 4, 3, 0.75),
    ]
    assert all(s.monitor for s in steps if s.name.startswith("Linear step"))


def test_multi_variant_blue_green_moves_every_variant_together() -> None:
    update = blue_green(Routing.LINEAR, Size(SizeType.CAPACITY_PERCENT, 50))
    steps = blue_green_steps(update, {"a": Fleet(2, 2), "b": Fleet(4, 4), "gone": Fleet(1, 0)})
    for step in steps:
        assert_sound(step.layouts["a"])
        assert_sound(step.layouts["b"])
    # A variant the new config drops keeps serving until the switch, then goes.
    switch = next(k for k, step in enumerate(steps) if step.switch)
    assert all(s.layouts["gone"].blue_active == 1 for s in steps[:switch])
    assert steps[switch].layouts["gone"].blue_active == 0
    assert steps[-1].layouts["gone"] == Layout(0, 0, 0, 0, 1.0)
    assert steps[-1].layouts["a"] == Layout(0, 0, 2, 2, 1.0)


@pytest.mark.parametrize(
    "batch",
    [Size(SizeType.INSTANCE_COUNT, n) for n in (1, 2, 3)]
    + [Size(SizeType.CAPACITY_PERCENT, p) for p in (5, 20, 50)],
)
@pytest.mark.parametrize(("blue", "green"), [(1, 1), (4, 4), (5, 5), (6, 3), (3, 6), (10, 10)])
def test_rolling_invariants(batch: Size, blue: int, green: int) -> None:
    steps = rolling_steps(Rolling(batch, 30, 28800, None), {"v": Fleet(blue, green)})
    size = batch.instances(green)
    for step in steps:
        layout = step.layouts["v"]
        assert_sound(layout)
        # Never more than one batch of extra instances at a time.
        assert layout.blue_target + layout.green_target <= max(blue, green) + size
    assert steps[-1].layouts["v"] == Layout(0, 0, green, green, 1.0)
    assert sum(s.switch for s in steps) == 1
    assert [s.status for s in steps[:3]] == ["Creating", "ActivatingTraffic", "Deleting"]
    assert len(steps) == 3 * -(-green // size)
    assert total_wait_s(steps) == 30 * -(-green // size)


def test_capacity_scale_in_drains_before_stopping() -> None:
    steps = capacity_steps({"v": (4, 2), "w": (1, 3)})
    assert [s.layouts["v"] for s in steps] == [
        Layout(4, 4, 0, 0, 0.0),
        Layout(4, 2, 0, 0, 0.0),
        Layout(2, 2, 0, 0, 0.0),
    ]
    assert [s.layouts["w"] for s in steps] == [
        Layout(3, 1, 0, 0, 0.0),
        Layout(3, 3, 0, 0, 0.0),
        Layout(3, 3, 0, 0, 0.0),
    ]


@pytest.mark.parametrize(
    "batch",
    [None, Size(SizeType.INSTANCE_COUNT, 1), Size(SizeType.CAPACITY_PERCENT, 50)],
)
@pytest.mark.parametrize(("blue", "green"), [(1, 1), (4, 4), (3, 5)])
def test_rollback_from_every_step_ends_all_blue(batch: Size | None, blue: int, green: int) -> None:
    policies: list[list[Step]] = [
        blue_green_steps(blue_green(Routing.ALL_AT_ONCE), {"v": Fleet(blue, green)}),
        blue_green_steps(
            blue_green(Routing.LINEAR, Size(SizeType.CAPACITY_PERCENT, 50)),
            {"v": Fleet(blue, green)},
        ),
        rolling_steps(
            Rolling(Size(SizeType.INSTANCE_COUNT, 1), 0, 28800, batch), {"v": Fleet(blue, green)}
        ),
    ]
    for steps in policies:
        for failed in steps[:-1]:
            back = rollback_steps(dict(failed.layouts), {"v": blue}, batch)
            assert back, failed
            for step in back:
                assert_sound(step.layouts["v"])
            assert back[-1].layouts["v"] == blue_layouts({"v": Fleet(blue, green)})["v"]
            assert sum(s.switch for s in back) == 1


def test_rollback_restores_in_batches() -> None:
    current = {"v": Layout(1, 1, 6, 6, 6 / 7)}
    back = rollback_steps(current, {"v": 6}, Size(SizeType.INSTANCE_COUNT, 2))
    restored = [s.layouts["v"].blue_active for s in back if "traffic back" in s.name]
    assert restored == [3, 5, 6]


@pytest.mark.parametrize(("blue", "green"), list(itertools.product([1, 2, 5], [1, 3])))
def test_steps_survive_the_store(blue: int, green: int) -> None:
    steps = blue_green_steps(
        blue_green(Routing.LINEAR, Size(SizeType.CAPACITY_PERCENT, 50), wait=5),
        {"v": Fleet(blue, green)},
    )
    for step in steps:
        again = Step.from_doc(step.to_doc())
        assert (
            again.name,
            dict(again.layouts),
            again.wait_s,
            again.monitor,
            again.switch,
            again.status,
        ) == (
            step.name,
            dict(step.layouts),
            step.wait_s,
            step.monitor,
            step.switch,
            step.status,
        )
