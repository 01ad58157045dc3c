"""What a fleet tells about the processes of its ready copies (read-only).

The usage sampler (:mod:`moorage.usage`) measures the copies' processes —
CPU, memory, disk, GPU — and samples their in-flight requests; only
``fleet/`` knows which process serves which copy, so it hands out
:class:`CopyProcess` snapshots through :class:`ProcessView`, built on the
event loop and safe to read from a worker thread afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from moorage.fleet.base import CopyPlacement


@dataclass(frozen=True)
class CopyProcess:
    """One ready copy's process, as it was when the snapshot was taken."""

    copy_id: str
    endpoint: str
    variant: str
    component: str | None
    pid: int
    # A path on the disk the copy's files live on (its model directory).
    disk_path: str
    placement: CopyPlacement
    # Requests the router has in flight on the copy.
    inflight: int
    # Clock times: the start was asked for (before the model data was
    # fetched), and the copy first answered its ping.
    started_at: float
    ready_at: float


class ProcessView(Protocol):
    def processes(self) -> list[CopyProcess]:
        """A snapshot of every ready copy's process."""
        ...
