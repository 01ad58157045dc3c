"""Combining what several policies want into one new capacity.

Each alarm invocation that reached a policy yields a :class:`Proposal` (the
capacity that policy wants, already computed with cooldowns in mind by
:mod:`moorage.autoscaling.proposals`). :func:`decide` follows the
Application Auto Scaling user guide:

- availability first: if any proposal scales out, the largest one wins and
  no scale-in happens;
- otherwise, of the scale-in proposals, the one keeping the most capacity
  wins (the "largest capacity for both scale in and scale out" rule);
- the result is clamped to the target's ``MinCapacity``/``MaxCapacity``;
  ``DynamicScalingOutSuspended``/``DynamicScalingInSuspended`` drop the
  proposals of that direction;
- when nothing changes, the *not scaled reason* says why
  (``AlreadyAtMaxCapacity``, ``AlreadyAtMinCapacity``,
  ``AlreadyAtDesiredCapacity``).

Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class NotScaledCode(StrEnum):
    AT_MAX = "AlreadyAtMaxCapacity"
    AT_MIN = "AlreadyAtMinCapacity"
    AT_DESIRED = "AlreadyAtDesiredCapacity"


@dataclass(frozen=True)
class Proposal:
    """The capacity one policy wants after one alarm invoked it."""

    policy_name: str
    alarm_name: str
    capacity: int
    # The policy's cooldown in the proposal's direction (seconds).
    cooldown: float = 0.0


@dataclass(frozen=True)
class Decision:
    # The new capacity, or None when it stays as it is.
    capacity: int | None
    # The proposal the decision follows (None when there was none).
    proposal: Proposal | None
    not_scaled: NotScaledCode | None = None

    @property
    def scales(self) -> bool:
        return self.capacity is not None


def decide(
    current: int,
    proposals: Sequence[Proposal],
    *,
    minimum: int,
    maximum: int,
    out_suspended: bool = False,
    in_suspended: bool = False,
) -> Decision:
    outs = [p for p in proposals if p.capacity > current and not out_suspended]
    ins = [p for p in proposals if p.capacity < current and not in_suspended]
    if outs:
        winner = max(outs, key=lambda p: p.capacity)
        wanted = max(minimum, min(maximum, winner.capacity))
        if wanted > current:
            return Decision(wanted, winner)
        return Decision(None, winner, NotScaledCode.AT_MAX)
    if ins and not any(p.capacity > current for p in proposals):
        winner = max(ins, key=lambda p: p.capacity)
        wanted = min(maximum, max(minimum, winner.capacity))
        if wanted < current:
            return Decision(wanted, winner)
        return Decision(None, winner, NotScaledCode.AT_MIN)
    first = proposals[0] if proposals else None
    if first is not None and first.capacity > current and current >= maximum:
        return Decision(None, first, NotScaledCode.AT_MAX)
    if first is not None and first.capacity < current and current <= minimum:
        return Decision(None, first, NotScaledCode.AT_MIN)
    return Decision(None, first, NotScaledCode.AT_DESIRED)
