"""Per-endpoint bookkeeping of the component runner: one slot per placed copy.

A slot is one placed copy of an inference component (its copy id in the
endpoint's placement). It holds the model-server process running it, or the
task starting one, the adapters loaded into it, and the restart history used
for back-off. Slots live in memory only: after a restart every slot is empty
and the runner starts the placed copies again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from moorage.deploy.slots import RESTART_BACKOFF_CAP_S
from moorage.fleet.base import Copy, CopyState


@dataclass(frozen=True)
class CopyKey:
    """What a placed copy runs; a slot whose key no longer matches is replaced."""

    copy_id: str
    component: str
    generation: int
    instance_id: str
    devices: tuple[int, ...]


@dataclass
class CopySlot:
    key: CopyKey
    copy: Copy | None = None
    starting: asyncio.Task[None] | None = None
    failures: int = 0
    retry_at: float = 0.0
    # Why the last attempt to start this copy failed (cleared by a successful start).
    start_failure: str | None = None
    # Adapters (by their name in the model server) loaded into the running copy,
    # being loaded, or that failed to load into it.
    loaded: set[str] = field(default_factory=set)
    loading: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    load_failures: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.copy is not None and self.copy.state is CopyState.READY

    def settled(self, adapter: str) -> bool:
        """The adapter is loaded here, or failed to load here (nothing more will happen)."""
        return adapter in self.loaded or adapter in self.load_failures

    def running(self, copy: Copy) -> None:
        self.copy = copy
        self.start_failure = None
        self.loaded = set()
        self.load_failures = {}

    def backoff(self, now: float) -> None:
        """Schedule the next start after a failure or crash."""
        self.failures += 1
        delay = (
            0.0 if self.failures == 1 else min(2.0 ** (self.failures - 2), RESTART_BACKOFF_CAP_S)
        )
        self.retry_at = now + delay


@dataclass
class EndpointCopies:
    slots: dict[str, CopySlot] = field(default_factory=dict)
    # Stop tasks of retired copies, by component name (lower-cased).
    stopping: dict[str, set[asyncio.Task[None]]] = field(default_factory=dict)
    # Unload tasks of adapters being replaced or deleted, by component name (lower-cased).
    unloading: dict[str, set[asyncio.Task[None]]] = field(default_factory=dict)
    route_signature: object = None

    def slots_of(self, component: str) -> list[CopySlot]:
        key = component.lower()
        return [s for s in self.slots.values() if s.key.component.lower() == key]

    def busy(self, component: str) -> bool:
        key = component.lower()
        return bool(self.slots_of(component) or self.stopping.get(key) or self.unloading.get(key))

    def track(
        self, table: dict[str, set[asyncio.Task[None]]], component: str, task: asyncio.Task[None]
    ) -> None:
        tasks = table.setdefault(component.lower(), set())
        tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            tasks.discard(finished)
            if not tasks:
                table.pop(component.lower(), None)

        task.add_done_callback(done)
