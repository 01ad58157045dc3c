"""Rolling updates of an inference component's copies, simulated pass by pass.

No processes and no real time: :class:`Sim` plays the component runner's
part around the pure decision function (``component_outcomes.advance``). Each
pass it makes a slot for every placed copy, reports a copy ready ``start_s``
seconds after it was placed (or failing to start, for the generations told
to fail), advances, and stores the placement and component it got back, as
the runner does. The clock jumps between passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from moorage.deploy import component_rollout as rolling
from moorage.deploy.component_outcomes import Inputs, advance, serving_copies
from moorage.deploy.component_plan import add_copies, initial_capacity
from moorage.deploy.component_policy import parse_component_policy
from moorage.deploy.component_slots import CopyKey, CopySlot, EndpointCopies
from moorage.deploy.policy import PolicyError
from moorage.domain.component_placement import EndpointPlacement
from moorage.domain.endpoint import Endpoint, EndpointStatus
from moorage.domain.inference_component import ComponentStatus, InferenceComponent, Previous
from moorage.fleet.base import Copy, CopySpec, CopyState
from moorage.placement import Requirements, Strategy, default_catalog

T0 = 1_800_000_000.0
M5_4X = default_catalog().get("ml.m5.4xlarge")  # 16 vCPUs
ENDPOINT = Endpoint("ep", "arn:ep", 1.0, 1.0, "cfg", EndpointStatus.IN_SERVICE)
OLD = {
    "ModelName": "v1",
    "ComputeResourceRequirements": {"NumberOfCpuCoresRequired": 1, "MinMemoryRequiredInMb": 1024},
}
# The new specification needs twice the vCPUs.
NEW = {
    "ModelName": "v2",
    "ComputeResourceRequirements": {"NumberOfCpuCoresRequired": 2, "MinMemoryRequiredInMb": 1024},
}


def policy(
    batch: tuple[str, int],
    wait: int = 10,
    *,
    rollback: tuple[str, int] | None = None,
    alarms: Sequence[str] = (),
    timeout: int | None = None,
) -> dict[str, Any]:
    rolling_policy: dict[str, Any] = {
        "MaximumBatchSize": {"Type": batch[0], "Value": batch[1]},
        "WaitIntervalInSeconds": wait,
    }
    if rollback is not None:
        rolling_policy["RollbackMaximumBatchSize"] = {"Type": rollback[0], "Value": rollback[1]}
    if timeout is not None:
        rolling_policy["MaximumExecutionTimeoutInSeconds"] = timeout
    config: dict[str, Any] = {"RollingUpdatePolicy": rolling_policy}
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


@dataclass
class Pass:
    at: float
    status: ComponentStatus
    step: str | None
    old_placed: int
    new_placed: int
    served: tuple[str, ...]


@dataclass
class Sim:
    component: InferenceComponent
    placement: EndpointPlacement
    start_s: float = 2.0
    failing: set[int] = field(default_factory=set)  # generations whose copies cannot start
    alarm: str | None = None
    alarm_from: float = float("inf")
    now: float = T0
    state: EndpointCopies = field(default_factory=EndpointCopies)
    placed_at: dict[str, float] = field(default_factory=dict)
    passes: list[Pass] = field(default_factory=list)
    wakes: list[float] = field(default_factory=list)
    resumed: bool = False
    between: Callable[[Sim], None] | None = None

    @classmethod
    def update(
        cls, copies: int, new_copies: int, config: dict[str, Any], *, crowd: int = 0, **kw: Any
    ) -> Sim:
        """An InService component of ``copies`` copies, updated as UpdateInferenceComponent does.

        ``crowd`` vCPUs of the instance are taken by another component's copies.
        """
        capacity = initial_capacity("v", M5_4X, 1)
        for name, count in (("a", copies), ("other", crowd)):
            capacity = add_copies(
                capacity,
                name,
                Requirements(cpus=1, min_memory_mb=1024),
                count,
                Strategy.SPREAD,
                generation=1,
                limits=None,
            )
        old_ids = tuple(c.copy.copy_id for c in capacity.copies_of("a"))
        rollout = rolling.plan(
            parse_component_policy(config),
            component="a",
            variant="v",
            old_copies=copies,
            new_copies=new_copies,
            now=T0,
        )
        component = InferenceComponent(
            name="a",
            arn="arn:a",
            created=1.0,
            modified=T0,
            endpoint_name="ep",
            endpoint_arn="arn:ep",
            variant="v",
            status=ComponentStatus.UPDATING,
            spec=NEW,
            desired_copies=new_copies,
            generation=2,
            previous=Previous(OLD, copies, 1, old_ids),
            deployment=rolling.ComponentDeployment(config, rollout).to_doc(),
        )
        first = rolling.simulate(capacity, rolling.sides_of(component), rollout, limits=None)
        sim = cls(component, EndpointPlacement("ep", "arn:ep", 1.0, (first,)), **kw)
        for copy_id in old_ids:
            sim.placed_at[copy_id] = float("-inf")  # running all along
        return sim

    def _match(self) -> None:
        placed = {p.copy.copy_id: p for p in self.placement.variants[0].copies()}
        for copy_id in list(self.state.slots):
            if copy_id not in placed:
                del self.state.slots[copy_id]
                self.placed_at.pop(copy_id, None)
        for copy_id, item in placed.items():
            slot = self.state.slots.get(copy_id)
            if slot is None:
                key = CopyKey(copy_id, item.copy.component, item.generation, item.instance_id, ())
                slot = self.state.slots[copy_id] = CopySlot(key)
                self.placed_at.setdefault(copy_id, self.now)
            if slot.ready or slot.start_failure:
                continue
            if item.generation in self.failing:
                slot.start_failure = f"copy {copy_id} exited with status 1"
            elif self.now >= self.placed_at[copy_id] + self.start_s:
                copy = Copy(CopySpec(copy_id, "ep", "v", "img", None))
                copy.state = CopyState.READY
                slot.running(copy)

    def _alarms(self, names: Sequence[str]) -> str | None:
        return self.alarm if self.alarm in names and self.now >= self.alarm_from else None

    def step(self) -> Pass:
        if self.between is not None:
            self.between(self)
        self._match()
        inputs = Inputs(
            self.now,
            ENDPOINT,
            None,
            self.state,
            {"a": self.component},
            self.placement,
            alarms=self._alarms,
            resumed=frozenset({"a"}) if self.resumed else frozenset(),
        )
        self.resumed = False
        result = advance(inputs)
        self.component = result.components["a"]
        self.placement = result.placement or self.placement
        self.wakes.extend(result.wake_at)
        rollout = rolling.rolling_of(self.component)
        placed = self.placement.variants[0].copies_of("a")
        record = Pass(
            self.now,
            self.component.status,
            rollout.current.name if rollout else None,
            sum(1 for p in placed if p.generation == 1),
            sum(1 for p in placed if p.generation == 2),
            tuple(c.copy_id for c in serving_copies(self.state, self.component, None)),
        )
        self.passes.append(record)
        return record

    def run(self, seconds: float = 600.0, tick: float = 1.0) -> InferenceComponent:
        end = self.now + seconds
        self.step()
        while self.component.status is ComponentStatus.UPDATING and self.now < end:
            self.now += tick
            self.step()
        return self.component

    def steps_seen(self) -> list[str]:
        seen: list[str] = []
        for item in self.passes:
            if item.step and (not seen or seen[-1] != item.step):
                seen.append(item.step)
        return seen


def test_copies_are_replaced_batch_by_batch() -> None:
    config = policy(("COPY_COUNT", 1), wait=10)
    sim = Sim.update(3, 3, config)
    done = sim.run()
    assert done.status is ComponentStatus.IN_SERVICE
    assert (done.spec, done.generation, done.previous, done.deployment) == (NEW, 2, None, None)
    assert done.last_deployment_config == config
    assert done.failure_reason is None
    # Never more than one extra copy; every pass had copies serving.
    assert max(p.old_placed + p.new_placed for p in sim.passes) == 4
    assert all(p.served for p in sim.passes)
    assert sim.steps_seen() == [
        "Batch 1: start 1 new copy",
        "Batch 1: shift traffic to the new copies",
        "Batch 1: stop 1 old copy",
        "Batch 2: start 1 new copy",
        "Batch 2: shift traffic to the new copies",
        "Batch 2: stop 1 old copy",
        "Batch 3: start 1 new copy",
        "Batch 3: shift traffic to the new copies",
        "Batch 3: stop 1 old copy",
    ]
    # Old copies leave traffic one by one, as new copies join.
    old = {"a-1", "a-2", "a-3"}
    mixes = {(len(old.intersection(p.served)), len(p.served)) for p in sim.passes}
    assert {(3, 3), (2, 3), (1, 3), (0, 3)} <= mixes
    final = [c.copy.copy_id for c in sim.placement.variants[0].copies_of("a")]
    assert final == ["a-4", "a-5", "a-6"]
    # Three bakes of 10 s, each woken at its end.
    bakes = [p for p in sim.passes if p.step == "Batch 1: shift traffic to the new copies"]
    assert bakes[-1].at - bakes[0].at == pytest.approx(10, abs=1)
    assert any(w == pytest.approx(bakes[0].at + 10, abs=1) for w in sim.wakes)


def test_a_percentage_batch_and_a_new_copy_count() -> None:
    sim = Sim.update(4, 6, policy(("CAPACITY_PERCENT", 50), wait=5))
    done = sim.run()
    assert done.status is ComponentStatus.IN_SERVICE and done.desired_copies == 6
    assert [s for s in sim.steps_seen() if s.endswith("new copies") and "start" in s] == [
        "Batch 1: start 3 new copies",
        "Batch 2: start 3 new copies",
    ]
    assert max(p.old_placed + p.new_placed for p in sim.passes) == 7
    assert sim.passes[-1].new_placed == 6 and sim.passes[-1].old_placed == 0


def test_an_alarm_during_a_bake_rolls_back_in_batches() -> None:
    config = policy(("COPY_COUNT", 1), wait=10, rollback=("COPY_COUNT", 1), alarms=["latency"])
    sim = Sim.update(3, 3, config, alarm="latency")
    # The alarm goes off during the second batch's bake.
    sim.run(seconds=20)
    sim.alarm_from = sim.now
    done = sim.run()
    assert done.status is ComponentStatus.IN_SERVICE
    assert (done.spec, done.desired_copies, done.generation) == (OLD, 3, 1)
    assert done.failure_reason == (
        'The deployment was rolled back because alarm "latency" went into ALARM state during a '
        "baking period."
    )
    assert done.last_deployment_config is None and done.deployment is None
    rollback = [s for s in sim.steps_seen() if s.startswith("Rollback")]
    assert rollback[:3] == [
        "Rollback 1: restore old copies",
        "Rollback 1: traffic back to the old copies",
        "Rollback 1: stop new copies",
    ]
    assert len(rollback) == 6  # two new copies went back one at a time
    final = sim.placement.variants[0].copies_of("a")
    assert [p.generation for p in final] == [1, 1, 1]
    assert all(p.served for p in sim.passes)


def test_a_rollback_without_room_for_every_old_copy_brings_them_back_one_at_a_time() -> None:
    # 16 vCPUs: 7 taken, 4 old copies of 1 vCPU; new copies need 2. The update
    # fits batch by batch, to the last vCPU.
    config = policy(("COPY_COUNT", 1), wait=10, alarms=["latency"])
    sim = Sim.update(4, 4, config, crowd=7, alarm="latency")
    while sim.step().step != "Batch 3: shift traffic to the new copies":
        sim.now += 1
    # Two old and three new copies placed, one vCPU free: the default rollback
    # (every old copy at once) has no room, so it goes one copy at a time.
    sim.alarm_from = sim.now
    done = sim.run()
    assert (done.status, done.generation, done.desired_copies) == (
        ComponentStatus.IN_SERVICE,
        1,
        4,
    )
    assert done.failure_reason is not None and '"latency"' in done.failure_reason
    rollback = [s for s in sim.steps_seen() if s.startswith("Rollback")]
    assert len(rollback) == 9  # three new copies, one at a time
    assert rollback[-1] == "Rollback 3: stop new copies"
    assert all(p.served for p in sim.passes)
    assert max(p.old_placed * 1 + p.new_placed * 2 for p in sim.passes) <= 16 - 7
    assert [p.generation for p in sim.placement.variants[0].copies_of("a")] == [1, 1, 1, 1]


def test_a_new_copy_that_cannot_start_rolls_back_at_once() -> None:
    sim = Sim.update(2, 2, policy(("COPY_COUNT", 1)), failing={2})
    done = sim.run()
    assert done.status is ComponentStatus.IN_SERVICE and done.generation == 1
    assert done.failure_reason == (
        "The new copies could not be started and the update was rolled back: "
        "copy a-3 exited with status 1"
    )
    assert [p.copy.copy_id for p in sim.placement.variants[0].copies_of("a")] == ["a-1", "a-2"]


def test_the_execution_timeout_rolls_back() -> None:
    config = policy(("COPY_COUNT", 1), wait=300, timeout=700)
    sim = Sim.update(2, 2, config)
    done = sim.run(seconds=2000, tick=30)
    assert done.generation == 1
    assert done.failure_reason == (
        "The deployment did not complete within MaximumExecutionTimeoutInSeconds (700 seconds) "
        "and was rolled back."
    )
    assert any(w == pytest.approx(T0 + 700) for w in sim.wakes)


def test_a_batch_that_no_longer_fits_rolls_back_saying_where() -> None:
    sim = Sim.update(2, 2, policy(("COPY_COUNT", 1)))
    sim.run(seconds=3)  # batch 1 started

    def crowd(s: Sim) -> None:
        # Another component takes what the old copies give back.
        if s.passes and s.passes[-1].step == "Batch 1: stop 1 old copy":
            capacity = s.placement.variants[0]
            free = add_copies(
                capacity,
                "other",
                Requirements(cpus=1, min_memory_mb=1024),
                12,  # leaves 1 vCPU: room for an old copy, not for a new one
                Strategy.BINPACK,
                generation=1,
                limits=None,
            )
            s.placement = s.placement.with_variant(free)
            s.between = None

    sim.between = crowd
    done = sim.run()
    assert done.generation == 1 and done.status is ComponentStatus.IN_SERVICE
    assert done.failure_reason is not None
    assert done.failure_reason.startswith(
        "The new copies could not be started and the update was rolled back: Could not place "
        '1 of 1 copies of inference component "a"'
    )
    assert 'step "Batch 2: start 1 new copy"' in done.failure_reason


def test_a_restarted_server_bakes_again_from_the_start() -> None:
    sim = Sim.update(2, 2, policy(("COPY_COUNT", 1), wait=10))
    sim.run(seconds=6)
    assert sim.passes[-1].step == "Batch 1: shift traffic to the new copies"
    # The stored state survives a round trip; the new server sees it first.
    doc = sim.component.to_doc()
    assert rolling.deployment_of(sim.component) == rolling.ComponentDeployment.from_doc(
        doc["deployment"]
    )
    sim.resumed = True
    sim.now += 8
    sim.step()
    sim.now += 8  # 16 s after the bake began, 8 after the restart: still baking
    assert sim.step().step == "Batch 1: shift traffic to the new copies"
    assert sim.run().status is ComponentStatus.IN_SERVICE


@pytest.mark.parametrize(
    ("batch", "copies", "message"),
    [
        (("COPY_COUNT", 3), 4, "it is 75%"),
        (("CAPACITY_PERCENT", 60), 4, "it is 60%"),
        (("CAPACITY_PERCENT", 4), 4, "it is 4%"),
        (("COPY_COUNT", 1), 1, "it is 100%"),
    ],
)
def test_batch_sizes_outside_five_to_fifty_percent_are_refused(
    batch: tuple[str, int], copies: int, message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        rolling.plan(
            parse_component_policy(policy(batch)),
            component="a",
            variant="v",
            old_copies=copies,
            new_copies=copies,
            now=T0,
        )
    assert str(caught.value).startswith(
        f"MaximumBatchSize ({batch[0]} {batch[1]}) must be between 5% and 50% of the copy count "
        f"of inference component a ({copies} cop"
    )
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("batch", "copies"),
    [(("COPY_COUNT", 1), 20), (("COPY_COUNT", 10), 20), (("CAPACITY_PERCENT", 5), 4)],
)
def test_batch_sizes_at_the_bounds_are_accepted(batch: tuple[str, int], copies: int) -> None:
    rollout = rolling.plan(
        parse_component_policy(policy(batch, wait=0)),
        component="a",
        variant="v",
        old_copies=copies,
        new_copies=copies,
        now=T0,
    )
    assert rollout.kind == "component"


def test_waits_must_fit_in_the_execution_timeout() -> None:
    with pytest.raises(PolicyError) as caught:
        rolling.plan(
            parse_component_policy(policy(("COPY_COUNT", 1), wait=300, timeout=600)),
            component="a",
            variant="v",
            old_copies=2,
            new_copies=2,
            now=T0,
        )
    assert str(caught.value) == (
        "MaximumExecutionTimeoutInSeconds (600) must be larger than the total waiting time of "
        "the deployment (600 seconds of WaitIntervalInSeconds, one per batch)."
    )
