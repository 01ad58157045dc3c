"""Rolling updates of an inference component's copies, on the endpoint rollout engine.

``UpdateInferenceComponent`` with a ``DeploymentConfig`` and a new
specification rolls the copies over in batches. The steps are the endpoint
engine's rolling timeline counted in copies
(:func:`~moorage.deploy.timeline.rolling_steps` with
:data:`~moorage.deploy.timeline.COPIES`): per batch, start
``MaximumBatchSize`` new copies beside the old ones; once they answer
``/ping``, move as many old copies' traffic to them and bake for
``WaitIntervalInSeconds`` watching the rollback alarms; then stop those old
copies. The state is the engine's pure :class:`~moorage.deploy.rollout.Rollout`
(kind ``component``), stored in the component's record as a
:class:`ComponentDeployment` before anything is started or stopped, so a
restarted server resumes it (a bake in progress starts over).

:func:`drive` is one pass of the component runner for one updating
component: observe the copies of the side being brought up (the new one, or
the old one when rolling back), advance the state machine, place the current
step's copies (:func:`~moorage.deploy.component_layout.fit`; a batch that
does not fit is a failure that rolls back), and finish. It performs no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from moorage.deploy import rollout as machine
from moorage.deploy.component_layout import Generation, Sides, fit
from moorage.deploy.component_plan import ScalingLimits, drop_copies
from moorage.deploy.component_policy import check_component_policy
from moorage.deploy.component_slots import CopySlot
from moorage.deploy.driver import AlarmCheck
from moorage.deploy.policy import Policy, Rolling, Size, SizeType
from moorage.deploy.rollout import Event, Facts, Phase, Rollout
from moorage.deploy.timeline import (
    COPIES,
    Fleet,
    Layout,
    rollback_steps,
    rolling_steps,
    total_wait_s,
)
from moorage.domain.component_placement import VariantCapacity
from moorage.domain.inference_component import (
    ComponentStatus,
    InferenceComponent,
    requirements_of,
    strategy_of,
)
from moorage.placement import DoesNotFit

KIND = "component"
ONE_COPY = Size(SizeType.INSTANCE_COUNT, 1)


@dataclass(frozen=True)
class ComponentDeployment:
    """An update given with a DeploymentConfig.

    ``rollout`` is None when the specification did not change: the copy
    count changes at once, and the config is recorded as
    ``LastDeploymentConfig`` once that succeeded.
    """

    config: Mapping[str, Any]
    rollout: Rollout | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "rollout": self.rollout.to_doc() if self.rollout is not None else None,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ComponentDeployment:
        rollout = doc.get("rollout")
        return cls(doc["config"], Rollout.from_doc(rollout) if rollout else None)


def deployment_of(component: InferenceComponent) -> ComponentDeployment | None:
    doc = component.deployment
    return ComponentDeployment.from_doc(doc) if doc else None


def rolling_of(component: InferenceComponent) -> Rollout | None:
    """The rolling update under way, if the component is in one."""
    if component.status is not ComponentStatus.UPDATING or component.previous is None:
        return None
    deployment = deployment_of(component)
    return deployment.rollout if deployment is not None else None


def plan(
    policy: Policy, *, component: str, variant: str, old_copies: int, new_copies: int, now: float
) -> Rollout:
    """The rollout of ``new_copies`` copies replacing ``old_copies``; checks AWS's rules."""
    update = policy.update
    assert isinstance(update, Rolling)
    steps = rolling_steps(update, {variant: Fleet(old_copies, new_copies)}, COPIES)
    check_component_policy(
        policy, component=component, copies=new_copies, total_wait_s=total_wait_s(steps)
    )
    return machine.start(
        kind=KIND,
        steps=steps,
        blue_counts={variant: old_copies},
        rollback_batch=update.rollback_batch,
        alarms=policy.alarms,
        now=now,
        max_execution_s=float(update.max_execution_s),
    )


def sides_of(component: InferenceComponent) -> Sides:
    previous = component.previous
    assert previous is not None
    return Sides(
        component=component.name,
        old=Generation(
            previous.generation, requirements_of(previous.spec), strategy_of(previous.spec)
        ),
        new=Generation(component.generation, component.requirements, component.strategy),
        original=previous.copy_ids,
    )


class BatchDoesNotFit(Exception):
    def __init__(self, step: str, cause: DoesNotFit) -> None:
        super().__init__(cause.message)
        self.step = step
        self.message = cause.message


def simulate(
    capacity: VariantCapacity,
    sides: Sides,
    rollout: Rollout,
    *,
    limits: ScalingLimits | None,
) -> VariantCapacity:
    """Place every step of the rollout in turn; the placement of its first step.

    Raises :class:`BatchDoesNotFit` naming the first step whose copies do not
    fit, so a rolling update that cannot be carried out is refused before
    anything changes.
    """
    first: VariantCapacity | None = None
    for step in rollout.steps:
        try:
            capacity = fit(
                capacity, sides, _layout(step.layouts), rolling_back=False, limits=limits
            )
        except DoesNotFit as exc:
            raise BatchDoesNotFit(step.name, exc) from None
        first = first or capacity
    assert first is not None
    return first


def current_layout(rollout: Rollout) -> Layout:
    """How many copies of each generation the current step places and routes."""
    return _layout(rollout.current.layouts)


def _layout(layouts: Mapping[str, Layout]) -> Layout:
    (layout,) = layouts.values()
    return layout


# -- one pass --------------------------------------------------------------------


@dataclass(frozen=True)
class Drive:
    now: float
    component: InferenceComponent
    capacity: VariantCapacity
    # The runner's slots of this component's copies.
    slots: Sequence[CopySlot]
    # Whether a running copy has settled every adapter of the component.
    settled: Callable[[CopySlot], bool]
    alarms: AlarmCheck
    # First pass since this server started: a bake in progress starts over.
    resumed: bool
    limits: ScalingLimits | None


@dataclass(frozen=True)
class Driven:
    component: InferenceComponent
    capacity: VariantCapacity
    # Clock times at which a pass must run (end of a bake, the deadline).
    wake_at: tuple[float, ...] = ()


def drive(inputs: Drive) -> Driven:
    component = inputs.component
    deployment = deployment_of(component)
    assert deployment is not None and deployment.rollout is not None
    rollout = deployment.rollout
    sides = sides_of(component)
    now = inputs.now
    if inputs.resumed:
        rollout = machine.advance(rollout, Facts(now), Event.RESUMED)
    alarm = inputs.alarms(rollout.alarms) if rollout.alarms else None
    ready, failure = _observe(inputs, sides, rollout)
    rollout = machine.settle(rollout, Facts(now, ready=ready, failure=failure, alarm=alarm))
    capacity = inputs.capacity
    for _ in range(3):
        if rollout.phase is Phase.ROLLBACK_FAILED:
            break
        try:
            capacity = fit(
                inputs.capacity,
                sides,
                current_layout(rollout),
                rolling_back=rollout.rolling_back,
                limits=inputs.limits,
            )
            break
        except DoesNotFit as exc:
            if rollout.phase is not Phase.APPLYING:
                break  # the layout was placed already; nothing new to place
            if rollout.rolling_back and rollout.rollback_batch != ONE_COPY:
                # No room to bring that many old copies back: one at a time,
                # each batch of new copies stopping makes room for the next.
                rollout = one_copy_at_a_time(rollout)
                continue
            failed = f'{exc.message} (step "{rollout.current.name}")'
            rollout = machine.settle(rollout, Facts(now, failure=failed, alarm=alarm))
    return _finish(inputs, deployment, rollout, capacity)


def one_copy_at_a_time(rollout: Rollout) -> Rollout:
    """The rest of a rollback re-planned with a rollback batch of one copy."""
    done = rollout.rollback[: rollout.step]
    start = done[-1].layouts if done else rollout.steps[rollout.failed_at].layouts
    # Rollback steps come in threes; the new ones carry on the numbering.
    offset = len(done) // 3
    rest = [
        replace(step, name=_renumber(step.name, offset))
        for step in rollback_steps(start, rollout.blue_counts, ONE_COPY, COPIES)
    ]
    return replace(rollout, rollback=(*done, *rest), rollback_batch=ONE_COPY)


def _renumber(name: str, offset: int) -> str:
    """``Rollback 1: …`` as ``Rollback {1 + offset}: …``."""
    head, _, tail = name.partition(": ")
    number = head.removeprefix("Rollback ")
    return f"Rollback {int(number) + offset}: {tail}" if number.isdigit() else name


def _observe(inputs: Drive, sides: Sides, rollout: Rollout) -> tuple[bool, str | None]:
    """Whether the copies of the side being brought up are all ready; why one failed."""
    layout = _layout(rollout.current.layouts)
    if rollout.rolling_back:
        generation, target = sides.old.number, layout.blue_target
    else:
        generation, target = sides.new.number, layout.green_target
    placed = {
        p.copy.copy_id
        for p in inputs.capacity.copies_of(sides.component)
        if p.generation == generation
    }
    slots = [s for s in inputs.slots if s.key.copy_id in placed]
    failure = next((s.start_failure for s in slots if s.start_failure is not None), None)
    running = sum(1 for s in slots if s.ready and inputs.settled(s))
    return len(placed) == target and running >= target, failure


def _finish(
    inputs: Drive, deployment: ComponentDeployment, rollout: Rollout, capacity: VariantCapacity
) -> Driven:
    component = inputs.component
    now = inputs.now
    previous = component.previous
    assert previous is not None
    if rollout.phase is Phase.DONE:
        done = component.with_changes(
            status=ComponentStatus.IN_SERVICE,
            previous=None,
            deployment=None,
            failure_reason=None,
            last_deployment_config=deployment.config,
            modified=now,
        )
        return Driven(done, capacity)
    if rollout.phase is Phase.ROLLED_BACK:
        restored = component.with_changes(
            status=ComponentStatus.IN_SERVICE,
            spec=previous.spec,
            desired_copies=previous.desired_copies,
            generation=previous.generation,
            previous=None,
            deployment=None,
            failure_reason=rollout.reason,
            modified=now,
        )
        return Driven(restored, capacity)
    if rollout.phase is Phase.ROLLBACK_FAILED:
        ids = [p.copy.copy_id for p in capacity.copies_of(component.name)]
        failed = component.with_changes(
            status=ComponentStatus.FAILED,
            previous=None,
            deployment=None,
            failure_reason=rollout.reason,
            modified=now,
        )
        return Driven(failed, drop_copies(capacity, ids, limits=inputs.limits))
    wake: list[float] = []
    if rollout.phase is Phase.WAITING:
        wake.append(rollout.since + rollout.current.wait_s)
    if not rollout.rolling_back:
        wake.append(rollout.deadline)
    moved = ComponentDeployment(deployment.config, rollout).to_doc()
    if moved != component.deployment:
        component = component.with_changes(deployment=moved)
    return Driven(component, capacity, tuple(wake))
