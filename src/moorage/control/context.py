"""What every control-plane service needs: the store, the clock, ARNs, the file roots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from moorage.arns import Partition
from moorage.clock import Clock
from moorage.file_roots import FileRoots
from moorage.store.base import Store


@dataclass(frozen=True)
class ControlContext:
    store: Store
    clock: Clock
    partition: Partition
    # Called with an endpoint name after its desired state changed, so the
    # reconciler acts at once instead of at its next tick.
    notify: Callable[[str], None] = field(default=lambda name: None)
    # Where local paths named in requests may lead (moorage serve --file-root).
    file_roots: FileRoots = field(default_factory=FileRoots)

    def now(self) -> float:
        """The clock's time at the millisecond precision of the wire format.

        Stored times are what callers see, so a timestamp a caller got back
        filters (CreationTimeBefore/After) exactly as expected.
        """
        return round(self.clock.now(), 3)

    def arn(self, resource_type: str, name: str) -> str:
        return self.partition.arn(resource_type, name)
