"""Cooldowns: how recent scaling activities hold back the next ones.

As the Application Auto Scaling user guide describes them (target tracking
and step scaling alike), with each policy's own cooldown length:

- **Scale-out cooldown.** After a scale-out, a policy does not add capacity
  again unless a larger scale-out is wanted: while the cooldown lasts, a
  scale-out proposal is computed from the capacity *before* the scale-out
  that started the cooldown (:meth:`Cooldowns.out_base_for`), so the capacity
  it added counts towards the next one. A +2 step followed, during the
  cooldown, by a +3 step adds only 1. A larger scale-out during the cooldown
  starts it again from the same base, so a metric that lags behind the new
  capacity does not compound.
- **Scale-in cooldown.** After a scale-in, further scale-ins wait until the
  cooldown has passed (:meth:`Cooldowns.in_blocked`). A scale-out is never
  held back by it, and ends it.

Cooldowns apply to policies only; scheduled actions and minimum/maximum
changes scale at once. Pure; the state is kept with the scalable target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Cooldowns:
    # When the last policy scale-out happened, and the capacity it started from.
    out_at: float | None = None
    out_base: int = 0
    # When the last policy scale-in happened.
    in_at: float | None = None

    def out_base_for(self, now: float, cooldown: float, current: int) -> int:
        """The capacity a scale-out proposal starts from, at ``now``."""
        if self.out_at is not None and now < self.out_at + cooldown:
            return min(self.out_base, current)
        return current

    def in_blocked(self, now: float, cooldown: float) -> bool:
        return self.in_at is not None and now < self.in_at + cooldown

    def scaled_out(self, now: float, current: int, cooldown: float) -> Cooldowns:
        """A policy scaled out from ``current`` at ``now`` (its cooldown: ``cooldown``)."""
        base = self.out_base_for(now, cooldown, current)
        return Cooldowns(out_at=now, out_base=base, in_at=None)

    def scaled_in(self, now: float) -> Cooldowns:
        return replace(self, in_at=now)

    def to_doc(self) -> dict[str, Any]:
        return {"outAt": self.out_at, "outBase": self.out_base, "inAt": self.in_at}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Cooldowns:
        if not doc:
            return cls()
        out_at, in_at = doc.get("outAt"), doc.get("inAt")
        return cls(
            out_at=float(out_at) if out_at is not None else None,
            out_base=int(doc.get("outBase", 0)),
            in_at=float(in_at) if in_at is not None else None,
        )
