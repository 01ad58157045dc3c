"""Step scaling: ``StepScalingPolicyConfiguration``, validated, and its arithmetic.

A step scaling policy is invoked by a CloudWatch alarm that names its ARN in
``AlarmActions`` (:mod:`moorage.autoscaling.controller`). The alarm's recent
datapoints are aggregated (``MetricAggregationType``, default ``Average``),
the *breach* is that value minus the alarm's threshold, and the step whose
bounds hold the breach gives the adjustment — as the Application Auto
Scaling user guide describes "Step adjustments":

- bounds are relative to the threshold; a missing lower bound is minus
  infinity, a missing upper bound plus infinity;
- above the threshold a step's lower bound is inclusive and its upper bound
  exclusive; below it, the other way round (at the threshold itself, a step
  that starts at 0 is taken first);
- ``ChangeInCapacity`` adds the adjustment, ``ExactCapacity`` sets it,
  ``PercentChangeInCapacity`` adds that percentage of the capacity, rounded
  as AWS rounds it (above 1 down, between 0 and 1 to 1, between -1 and 0 to
  -1, below -1 up), and at least ``MinAdjustmentMagnitude`` in size.

Pure: nothing here reads the clock or the store.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from moorage.errors import ValidationError

DEFAULT_COOLDOWN = 300


class AdjustmentType(StrEnum):
    CHANGE = "ChangeInCapacity"
    PERCENT = "PercentChangeInCapacity"
    EXACT = "ExactCapacity"


class Aggregation(StrEnum):
    AVERAGE = "Average"
    MINIMUM = "Minimum"
    MAXIMUM = "Maximum"


@dataclass(frozen=True)
class StepAdjustment:
    lower: float | None
    upper: float | None
    adjustment: int

    def holds(self, breach: float, *, above: bool) -> bool:
        low = -math.inf if self.lower is None else self.lower
        high = math.inf if self.upper is None else self.upper
        if above:
            return low <= breach < high
        return low < breach <= high


@dataclass(frozen=True)
class StepConfig:
    adjustment_type: AdjustmentType
    steps: tuple[StepAdjustment, ...]
    min_magnitude: int | None = None
    cooldown: int = DEFAULT_COOLDOWN
    aggregation: Aggregation = Aggregation.AVERAGE

    def step_for(self, breach: float) -> StepAdjustment | None:
        """The step adjustment whose interval holds ``breach`` (value minus threshold)."""
        sides = (True,) if breach > 0 else (False,) if breach < 0 else (True, False)
        for above in sides:
            for step in self.steps:
                if step.holds(breach, above=above):
                    return step
        return None

    def apply(self, capacity: int, step: StepAdjustment) -> int:
        """The capacity after ``step`` (not yet clamped to the target's range)."""
        if self.adjustment_type is AdjustmentType.EXACT:
            return step.adjustment
        if self.adjustment_type is AdjustmentType.CHANGE:
            return capacity + step.adjustment
        change = _round_percent(capacity * step.adjustment / 100.0)
        if self.min_magnitude is not None and 0 < abs(change) < self.min_magnitude:
            change = self.min_magnitude if change > 0 else -self.min_magnitude
        return capacity + change


def aggregate(values: Sequence[float], aggregation: Aggregation) -> float:
    if aggregation is Aggregation.MINIMUM:
        return min(values)
    if aggregation is Aggregation.MAXIMUM:
        return max(values)
    return sum(values) / len(values)


def _round_percent(change: float) -> int:
    if change == 0:
        return 0
    if 0 < change < 1:
        return 1
    if -1 < change < 0:
        return -1
    return math.floor(change) if change > 0 else math.ceil(change)


def parse_step_config(config: Mapping[str, Any]) -> StepConfig:
    """A validated ``StepScalingPolicyConfiguration``, or a ``ValidationException``."""
    kind = config.get("AdjustmentType")
    if kind is None:
        raise ValidationError("AdjustmentType is required for a step scaling policy.")
    adjustment_type = AdjustmentType(kind)
    raw_steps = config.get("StepAdjustments") or []
    if not raw_steps:
        raise ValidationError("A step scaling policy needs at least one step adjustment.")
    steps = tuple(
        StepAdjustment(
            _bound(s.get("MetricIntervalLowerBound")),
            _bound(s.get("MetricIntervalUpperBound")),
            int(s["ScalingAdjustment"]),
        )
        for s in raw_steps
    )
    _check_intervals(steps)
    if adjustment_type is AdjustmentType.EXACT and any(s.adjustment < 0 for s in steps):
        raise ValidationError(
            "With AdjustmentType ExactCapacity, a ScalingAdjustment must not be negative."
        )
    magnitude = config.get("MinAdjustmentMagnitude")
    if magnitude is not None:
        if adjustment_type is not AdjustmentType.PERCENT:
            raise ValidationError(
                "MinAdjustmentMagnitude is only supported with AdjustmentType "
                "PercentChangeInCapacity."
            )
        if magnitude < 1:
            raise ValidationError("MinAdjustmentMagnitude must be at least 1.")
    cooldown = config.get("Cooldown", DEFAULT_COOLDOWN)
    if cooldown < 0:
        raise ValidationError("Cooldown must not be negative.")
    return StepConfig(
        adjustment_type,
        steps,
        magnitude,
        int(cooldown),
        Aggregation(config.get("MetricAggregationType", Aggregation.AVERAGE.value)),
    )


def _bound(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError("A step adjustment's bounds must be finite numbers.")
    return number


def _check_intervals(steps: tuple[StepAdjustment, ...]) -> None:
    """Intervals may neither overlap nor leave gaps; one is open below, one above, at most."""
    for step in steps:
        if step.lower is None and step.upper is None:
            raise ValidationError(
                "A step adjustment cannot have both a null lower bound and a null upper bound."
            )
        if step.lower is not None and step.upper is not None and step.lower >= step.upper:
            raise ValidationError(
                f"A step adjustment's lower bound ({step.lower:g}) must be less than its upper "
                f"bound ({step.upper:g})."
            )
    if sum(s.lower is None for s in steps) > 1:
        raise ValidationError("Only one step adjustment can have a null lower bound.")
    if sum(s.upper is None for s in steps) > 1:
        raise ValidationError("Only one step adjustment can have a null upper bound.")
    ordered = sorted(steps, key=lambda s: -math.inf if s.lower is None else s.lower)
    for before, after in itertools.pairwise(ordered):
        if before.upper is None or after.lower is None or before.upper != after.lower:
            raise ValidationError(
                "The step adjustments' intervals must neither overlap nor leave a gap: each "
                "lower bound must be the upper bound of the step before it."
            )
    lowest, highest = ordered[0], ordered[-1]
    if lowest.lower is not None and lowest.lower < 0:
        raise ValidationError(
            "A step adjustment has a negative lower bound, so one must have a null lower bound."
        )
    if highest.upper is not None and highest.upper > 0:
        raise ValidationError(
            "A step adjustment has a positive upper bound, so one must have a null upper bound."
        )
