"""The autoscaling controller: a background task of the server, ticking on the clock.

Each tick (every second of the server's clock) it, in this order:

1. **settles** activities in progress: asks each one's lever whether the
   endpoint or inference component has reached the capacity
   (``Successful``) or will not (``Failed``);
2. **runs scheduled actions** that are due: sets the target's minimum and
   maximum (an activity of its own), unless ``ScheduledScalingSuspended``;
3. **puts capacities back in range** for targets whose minimum or maximum
   changed (by RegisterScalableTarget or a scheduled action), once the
   resource is not being changed;
4. **scales out from zero** the targets an invocation found at capacity 0
   (:meth:`Controller.wake_from_zero`, called by the data plane's hold,
   :mod:`moorage.runtime.hold`): to ``max(1, MinCapacity)``, once the
   resource is not being changed;
5. **runs policies** their alarms invoked. The alarm evaluator calls
   :meth:`Controller.on_action` for each policy ARN an alarm names, on the
   transition and again every minute while the alarm stays in the state
   (:mod:`moorage.monitoring.alarm_actions`); invocations wait here until the
   resource is not being changed, then each alarm's recent datapoints make a
   :class:`~moorage.autoscaling.decision.Proposal` and
   :func:`~moorage.autoscaling.decision.decide` picks the new capacity.

A change is an activity written *before* the lever is pulled
(:mod:`moorage.autoscaling.levers`: the SageMaker operations themselves), so
the log never misses a change that happened. A target tracking policy
scales in only when every target tracking policy of the target (with scale-in
enabled) has its AlarmLow in ALARM. Nothing here sleeps but :meth:`run`, on
the injected clock: unit tests call :meth:`step` with a fake clock's time.
An idle tick touches nothing: no pending invocation, no activity in progress,
no schedule due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from moorage.autoscaling import activities as texts
from moorage.autoscaling.activities import Activity, ActivityLog, ActivityStatus, NotScaled
from moorage.autoscaling.arns import POLICY_ARN_PREFIX
from moorage.autoscaling.cooldown import Cooldowns
from moorage.autoscaling.decision import NotScaledCode, Proposal, decide
from moorage.autoscaling.levers import LeverSet
from moorage.autoscaling.proposals import step_proposal, tracking_proposal
from moorage.autoscaling.records import Registry, ScalableTarget, ScalingPolicy, ScheduledAction
from moorage.autoscaling.resources import ResourceRef
from moorage.autoscaling.schedule import parse_schedule
from moorage.clock import Clock
from moorage.errors import ServiceError
from moorage.monitoring import AlarmEvaluator, AlarmRecord, MetricStore, StateValue
from moorage.monitoring.alarm_actions import ActionInvocation, actions_for
from moorage.monitoring.alarm_eval import recent_values
from moorage.store.base import StoreUnavailable

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
_T = TypeVar("_T")
PRUNE_INTERVAL_SECONDS = 600.0


@dataclass(frozen=True)
class _Invoked:
    policy: ScalingPolicy
    alarm: AlarmRecord


class Controller:
    def __init__(
        self,
        clock: Clock,
        registry: Registry,
        levers: LeverSet,
        activities: ActivityLog,
        evaluator: AlarmEvaluator,
        metrics: MetricStore,
    ) -> None:
        self.clock = clock
        self.registry = registry
        self.levers = levers
        self.activities = activities
        self.evaluator = evaluator
        self.metrics = metrics
        # (policy ARN, alarm name) → the latest invocation not yet acted upon.
        self._pending: dict[tuple[str, str], ActionInvocation] = {}
        # Targets whose capacity must be put back inside their range.
        self._bounds: dict[str, ResourceRef] = {}
        # Targets an invocation found at capacity 0, to be scaled out.
        self._wakes: dict[str, ResourceRef] = {}
        self._in_progress: dict[str, Activity] | None = None
        self._next_schedule: float | None = None
        self._schedules_dirty = True
        self._pruned_at = -math.inf
        self._task: asyncio.Task[None] | None = None
        # What each failing piece of work last failed with, so it is logged once.
        self._failures: dict[str, str] = {}
        self._unregister = evaluator.actions.register(
            POLICY_ARN_PREFIX, self.on_action, repeat=True
        )

    # -- what others tell us ------------------------------------------------------------

    def on_action(self, invocation: ActionInvocation) -> None:
        """An alarm invoked a policy (called by the alarm evaluator, on its tick)."""
        if invocation.state is StateValue.INSUFFICIENT_DATA:
            return
        self._pending[(invocation.action, invocation.alarm_name)] = invocation

    def wake_from_zero(self, ref: ResourceRef) -> bool:
        """An invocation found ``ref`` at capacity 0: scale it out at the next tick.

        True when a registered target will do so (its maximum is 1 or more and
        dynamic scale-out is not suspended); the caller may then wait for it.
        """
        target = self.registry.target(ref)
        if target is None or target.maximum < 1 or target.suspended.dynamic_out:
            return False
        self._wakes[ref.key] = ref
        return True

    def bounds_changed(self, ref: ResourceRef) -> None:
        self._bounds[ref.key] = ref

    def schedules_changed(self) -> None:
        self._schedules_dirty = True

    # -- the loop -------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="autoscaling")

    async def stop(self) -> None:
        self._unregister()
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self) -> None:
        while True:
            try:
                self.step(self.clock.now())
            except StoreUnavailable:
                pass  # the store logged why, once; the next tick tries again
            except Exception:
                log.exception("autoscaling tick failed")
            await self.clock.sleep(TICK_SECONDS)

    def step(self, now: float) -> None:
        """One tick at ``now``."""
        if self._in_progress is None:
            self._in_progress = {a.id: a for a in self.activities.unfinished()}
        self._settle(now)
        self._run_schedules(now)
        self._enforce_bounds(now)
        self._wake_targets(now)
        self._run_policies(now)
        if now - self._pruned_at >= PRUNE_INTERVAL_SECONDS:
            self._pruned_at = now
            self.activities.prune(now)

    # -- 1. activities in progress --------------------------------------------------------

    def _settle(self, now: float) -> None:
        assert self._in_progress is not None
        for activity in list(self._in_progress.values()):
            self._guarded(f"activity {activity.id}", self._settle_one, activity, now)

    def _settle_one(self, activity: Activity, now: float) -> None:
        assert self._in_progress is not None
        if activity.capacity is None:
            del self._in_progress[activity.id]
            return
        progress = self.levers.of(activity.ref).progress(activity.ref, activity.capacity)
        if not progress.status.done:
            return
        if progress.status is ActivityStatus.SUCCESSFUL:
            message = texts.succeeded(activity.ref, activity.capacity)
        else:
            message = texts.failed(activity.ref, activity.capacity, progress.reason)
        self.activities.save(activity.finished(progress.status, message, now))
        del self._in_progress[activity.id]

    # -- 2. scheduled actions -------------------------------------------------------------

    def _run_schedules(self, now: float) -> None:
        due = self._next_schedule is not None and now >= self._next_schedule
        if not (self._schedules_dirty or due):
            return
        self._schedules_dirty = False
        actions = self.registry.scheduled_actions()
        upcoming: list[float] = []
        for found in sorted(actions, key=lambda a: (a.next_run or math.inf, a.created)):
            action = found
            if action.next_run is not None and action.next_run <= now:
                fired = self._guarded(f"scheduled action {action.name}", self._fire, action, now)
                if fired is None:
                    # Retried at the next tick (the store logged why, or it is logged once).
                    self._schedules_dirty = True
                    continue
                action = fired
            if action.next_run is not None:
                upcoming.append(action.next_run)
        self._next_schedule = min(upcoming, default=None)

    def _fire(self, action: ScheduledAction, now: float) -> ScheduledAction:
        schedule = parse_schedule(action.schedule, action.timezone)
        following = schedule.next_run(
            now, created=action.created, start=action.start, end=action.end
        )
        target = self.registry.target(action.ref)
        store = self.registry.store
        gone = target is None or self.levers.of(action.ref).read(action.ref) is None
        if target is None or gone or target.suspended.scheduled:
            # A suspended action (or one whose resource is gone) does not run, nor later.
            updated = action.with_changes(next_run=following)
            store.put(updated.to_record(now))
            return updated
        minimum = action.minimum if action.minimum is not None else target.minimum
        maximum = action.maximum if action.maximum is not None else target.maximum
        # A new minimum above the old maximum raises it (and the other way round).
        if action.maximum is None:
            maximum = max(maximum, minimum)
        if action.minimum is None:
            minimum = min(minimum, maximum)
        bounds = texts.bounds_text(action.minimum, action.maximum)
        updated = action.with_changes(next_run=following, last_run=now)
        with store.transaction():
            self.activities.begin(
                action.ref,
                f"Setting {bounds}",
                texts.scheduled_cause(action.name),
                now,
                status=ActivityStatus.SUCCESSFUL,
                message=f"Successfully set {bounds}",
            )
            self.registry.put_target(target.with_changes(minimum=minimum, maximum=maximum), now)
            store.put(updated.to_record(now))
        self._bounds[action.ref.key] = action.ref
        return updated

    # -- 3. capacity inside the range -----------------------------------------------------

    def _enforce_bounds(self, now: float) -> None:
        for ref in list(self._bounds.values()):
            self._guarded(f"range of {ref.resource_id}", self._enforce_one, ref, now)

    def _enforce_one(self, ref: ResourceRef, now: float) -> None:
        target = self.registry.target(ref)
        capacity = self.levers.of(ref).read(ref) if target is not None else None
        if target is None or capacity is None:
            del self._bounds[ref.key]
            return
        if capacity.busy:
            return  # not active now: the range is applied once it is
        del self._bounds[ref.key]
        wanted = min(target.maximum, max(target.minimum, capacity.current))
        if wanted != capacity.current:
            cause = texts.range_cause(target.minimum, target.maximum, capacity.current)
            self._scale(target, wanted, cause, now)

    # -- 4. out of zero -----------------------------------------------------------------

    def _wake_targets(self, now: float) -> None:
        for ref in list(self._wakes.values()):
            self._guarded(f"scale from zero of {ref.resource_id}", self._wake_one, ref, now)

    def _wake_one(self, ref: ResourceRef, now: float) -> None:
        target = self.registry.target(ref)
        capacity = self.levers.of(ref).read(ref) if target is not None else None
        if target is None or capacity is None or target.suspended.dynamic_out:
            del self._wakes[ref.key]
            return
        if capacity.busy:
            return  # e.g. a scale-in to 0 still under way: scale out once it is done
        del self._wakes[ref.key]
        wanted = min(target.maximum, max(1, target.minimum))
        if capacity.current == 0 and wanted > 0:
            # Like a scheduled action, not a policy: no cooldown starts.
            self._scale(target, wanted, texts.arrival_cause(ref), now)

    # -- 5. policies --------------------------------------------------------------------

    def _run_policies(self, now: float) -> None:
        if not self._pending:
            return
        by_arn = {p.arn: p for p in self.registry.policies()}
        groups: dict[str, list[tuple[tuple[str, str], _Invoked]]] = {}
        for key, invocation in list(self._pending.items()):
            policy = by_arn.get(invocation.action)
            alarm = self.evaluator.get(invocation.alarm_name)
            still = (
                policy is not None
                and alarm is not None
                and alarm.state.value is invocation.state
                and alarm.definition.actions_enabled
                and invocation.action in actions_for(alarm.definition, alarm.state.value)
            )
            if not still:
                del self._pending[key]
                continue
            assert policy is not None and alarm is not None
            groups.setdefault(policy.ref.key, []).append((key, _Invoked(policy, alarm)))
        for items in groups.values():
            ref = items[0][1].policy.ref
            target = self.registry.target(ref)
            capacity = self.levers.of(ref).read(ref) if target is not None else None
            if target is not None and capacity is not None and capacity.busy:
                continue  # wait until the resource takes changes again
            for key, _ in items:
                self._pending.pop(key, None)
            if target is None or capacity is None:
                continue
            invoked = [i for _, i in items]
            self._guarded(
                f"policies of {ref.resource_id}",
                self._dynamic,
                target,
                capacity.current,
                invoked,
                now,
            )

    def _guarded(self, what: str, work: Callable[..., _T], *args: Any) -> _T | None:
        """``work(*args)``; a failure is logged once per distinct error and gives None."""
        try:
            result = work(*args)
        except StoreUnavailable:
            return None
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
            if self._failures.get(what) != failure:
                self._failures[what] = failure
                log.exception(
                    "autoscaling: %s failed (logged again only if the error changes)", what
                )
            return None
        self._failures.pop(what, None)
        return result

    def _dynamic(
        self, target: ScalableTarget, current: int, invoked: list[_Invoked], now: float
    ) -> None:
        proposals: list[Proposal] = []
        states: dict[str, str] = {}
        for item in invoked:
            proposal = self._propose(target, current, item, now)
            if proposal is not None:
                proposals.append(proposal)
                states[item.alarm.definition.name] = item.alarm.state.value.value
        if not proposals:
            return
        decision = decide(
            current,
            proposals,
            minimum=target.minimum,
            maximum=target.maximum,
            out_suspended=target.suspended.dynamic_out,
            in_suspended=target.suspended.dynamic_in,
        )
        winner = decision.proposal or proposals[0]
        cause = texts.alarm_cause(
            winner.alarm_name, winner.policy_name, states.get(winner.alarm_name, "ALARM")
        )
        if decision.capacity is None:
            if decision.not_scaled is not None:
                reason = _not_scaled(decision.not_scaled, target, current)
                self.activities.not_scaled(target.ref, cause, reason, now)
            return
        if decision.capacity > current:
            cooldowns = target.cooldowns.scaled_out(now, current, winner.cooldown)
        else:
            cooldowns = target.cooldowns.scaled_in(now)
        self._scale(target, decision.capacity, cause, now, cooldowns=cooldowns)

    def _propose(
        self, target: ScalableTarget, current: int, item: _Invoked, now: float
    ) -> Proposal | None:
        policy, alarm = item.policy, item.alarm
        definition = alarm.definition
        values = recent_values(definition, self.metrics, now)
        if policy.is_tracking:
            high = bool(policy.alarms) and definition.name == policy.alarms[0].name
            if not high and not self._ready_to_scale_in(target.ref):
                return None
            return tracking_proposal(
                policy.name,
                definition.name,
                policy.tracking(),
                high=high,
                values=values,
                current=current,
                cooldowns=target.cooldowns,
                now=now,
            )
        return step_proposal(
            policy.name,
            definition.name,
            policy.step(),
            threshold=definition.threshold if definition.threshold is not None else 0.0,
            values=values,
            current=current,
            cooldowns=target.cooldowns,
            now=now,
        )

    def _ready_to_scale_in(self, ref: ResourceRef) -> bool:
        """Every target tracking policy with scale-in enabled has its AlarmLow in ALARM."""
        for policy in self.registry.policies(ref):
            if not policy.is_tracking or len(policy.alarms) < 2:
                continue
            low = self.evaluator.get(policy.alarms[1].name)
            if low is None or low.state.value is not StateValue.ALARM:
                return False
        return True

    # -- changing a capacity --------------------------------------------------------------

    def _scale(
        self,
        target: ScalableTarget,
        capacity: int,
        cause: str,
        now: float,
        *,
        cooldowns: Cooldowns | None = None,
    ) -> None:
        assert self._in_progress is not None
        ref = target.ref
        for activity_id, older in list(self._in_progress.items()):
            if older.ref.key == ref.key:
                self.activities.save(
                    older.finished(
                        ActivityStatus.OVERRIDDEN,
                        "The desired capacity was updated by a newer scaling activity.",
                        now,
                    )
                )
                del self._in_progress[activity_id]
        activity = self.activities.begin(
            ref, texts.setting(ref, capacity), cause, now, capacity=capacity
        )
        try:
            self.levers.of(ref).set(ref, capacity)
        except ServiceError as exc:
            log.info("autoscaling %s: %s", ref.resource_id, exc.message)
            self.activities.save(
                activity.finished(
                    ActivityStatus.FAILED, texts.failed(ref, capacity, exc.message), now
                )
            )
            return
        self._in_progress[activity.id] = activity
        if cooldowns is not None:
            self.registry.put_target(target.with_changes(cooldowns=cooldowns), now)


def _not_scaled(code: NotScaledCode, target: ScalableTarget, current: int) -> NotScaled:
    if code is NotScaledCode.AT_MAX:
        return NotScaled(code, maximum=target.maximum, current=current)
    if code is NotScaledCode.AT_MIN:
        return NotScaled(code, minimum=target.minimum, current=current)
    return NotScaled(code, current=current)
