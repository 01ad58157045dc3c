"""Per-endpoint bookkeeping of the reconciler: one slot per instance.

A slot is one instance of a group (``(group id, index)``). It holds the copy
running there, or the task starting one, plus the restart history used for
back-off. Slots live in memory only: after a restart of the server every
slot is empty and the reconciler starts copies again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from moorage.fleet.base import Copy, CopyState

RESTART_BACKOFF_CAP_S = 30.0
# A copy that stayed up this long before crashing starts a fresh back-off.
STABLE_AFTER_S = 60.0

SlotKey = tuple[str, int]


@dataclass
class Slot:
    group_id: str
    index: int
    copy: Copy | None = None
    starting: asyncio.Task[None] | None = None
    failures: int = 0
    retry_at: float = 0.0
    last_error: str | None = None
    # Why the last attempt to start a copy here failed (cleared by a successful start).
    start_failure: str | None = None

    @property
    def key(self) -> SlotKey:
        return (self.group_id, self.index)

    @property
    def ready(self) -> bool:
        return self.copy is not None and self.copy.state is CopyState.READY

    def backoff(self, now: float) -> None:
        """Schedule the next start after a failure or crash."""
        self.failures += 1
        delay = (
            0.0 if self.failures == 1 else min(2.0 ** (self.failures - 2), RESTART_BACKOFF_CAP_S)
        )
        self.retry_at = now + delay


@dataclass
class EndpointSlots:
    slots: dict[SlotKey, Slot] = field(default_factory=dict)
    stopping: set[asyncio.Task[None]] = field(default_factory=set)
    fatal: str | None = None
    route_signature: object = None

    def ready(self, group_id: str, target: int) -> int:
        return sum(
            1
            for index in range(target)
            if (slot := self.slots.get((group_id, index))) is not None and slot.ready
        )

    def failure(self, group_id: str, target: int) -> str | None:
        for index in range(target):
            slot = self.slots.get((group_id, index))
            if slot is not None and slot.start_failure is not None:
                return slot.start_failure
        return None

    def busy(self) -> bool:
        return bool(self.stopping) or any(
            s.copy is not None or s.starting is not None for s in self.slots.values()
        )
