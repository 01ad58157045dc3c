"""What one policy wants when one of its alarms invokes it: a :class:`Proposal`.

The controller (:mod:`moorage.autoscaling.controller`) reads the alarm's
recent datapoints and the target's capacity and cooldowns, and asks here:

- :func:`tracking_proposal` — a target tracking policy's AlarmHigh (scale out
  from the newest datapoint, from the capacity before a scale-out still in
  its cooldown) or AlarmLow (scale in from the highest datapoint, unless the
  scale-in cooldown holds it back or ``DisableScaleIn``);
- :func:`step_proposal` — a step scaling policy, from the aggregated
  datapoints' breach of the alarm's threshold. An alarm forced into ALARM
  by ``SetAlarmState`` with no datapoints counts as a metric exactly at the
  threshold (a breach of 0).

``None`` means the invocation proposes nothing at all (no datapoints, a
cooldown, no step for the breach); a proposal of the current capacity is a
"not scaled" decision. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from moorage.autoscaling.cooldown import Cooldowns
from moorage.autoscaling.decision import Proposal
from moorage.autoscaling.step_scaling import StepConfig, aggregate
from moorage.autoscaling.target_tracking import TrackingConfig, tracked_capacity


def tracking_proposal(
    policy_name: str,
    alarm_name: str,
    config: TrackingConfig,
    *,
    high: bool,
    values: Sequence[float],
    current: int,
    cooldowns: Cooldowns,
    now: float,
) -> Proposal | None:
    if not values:
        return None
    if high:
        # Target tracking cannot scale out from zero: there is no per-instance metric.
        if current == 0:
            return None
        base = cooldowns.out_base_for(now, config.scale_out_cooldown, current)
        wanted = tracked_capacity(base, values[-1], config.target)
        return Proposal(policy_name, alarm_name, max(wanted, current), config.scale_out_cooldown)
    if config.disable_scale_in or cooldowns.in_blocked(now, config.scale_in_cooldown):
        return None
    wanted = tracked_capacity(current, max(values), config.target)
    return Proposal(policy_name, alarm_name, min(wanted, current), config.scale_in_cooldown)


def step_proposal(
    policy_name: str,
    alarm_name: str,
    config: StepConfig,
    *,
    threshold: float,
    values: Sequence[float],
    current: int,
    cooldowns: Cooldowns,
    now: float,
) -> Proposal | None:
    value = aggregate(values, config.aggregation) if values else threshold
    step = config.step_for(value - threshold)
    if step is None:
        return None
    wanted = config.apply(current, step)
    if wanted > current:
        base = cooldowns.out_base_for(now, config.cooldown, current)
        if base != current:
            wanted = config.apply(base, step)
        return Proposal(policy_name, alarm_name, max(wanted, current), config.cooldown)
    if wanted < current and cooldowns.in_blocked(now, config.cooldown):
        return None
    return Proposal(policy_name, alarm_name, wanted, config.cooldown)
