"""Copies of multi-container models: one process per container, started and stopped together.

A model with several ``Containers`` (a serial inference pipeline, or
containers invoked directly) runs, on each of its instances, every one of
its containers, as SageMaker runs them side by side on one instance. The
local fleet (:mod:`moorage.fleet.local`) starts such a copy here: each
container is a copy of its own (a *member*, started from one of
``CopySpec.containers`` exactly as a single-container copy is: its image
through the image map, its model data, its own port, socket and log
stream), and the copy the reconciler holds is the set of them
(``Copy.members``), running no process itself.

The set is ready when every member is; if one cannot start, the others are
stopped and the start fails with that member's reason. Once ready, a member
that exits or fails its health checks takes the whole set down: the set is
reported gone (:func:`member_gone`), its other members are stopped, and the
reconciler replaces the set, as SageMaker replaces an instance. Stopping the
set drains its in-flight requests (counted on the set by the router) and
then stops the members.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from moorage.clock import Clock
from moorage.fleet.base import Copy, CopySpec, CopyState, StartFailed

Stop = Callable[[Copy], Coroutine[Any, Any, None]]
# Members whose process has stopped serving.
_DOWN = frozenset({CopyState.STOPPED, CopyState.FAILED, CopyState.CRASHED, CopyState.UNHEALTHY})


class MemberFleet(Protocol):
    clock: Clock

    async def start(self, spec: CopySpec) -> Copy: ...

    async def stop(self, copy: Copy, *, drain_timeout_s: float = 60.0) -> None: ...


async def start_set(fleet: MemberFleet, spec: CopySpec) -> Copy:
    """Start every container of ``spec``; return the set once all are ready."""
    whole = Copy(spec)
    whole.started_at = fleet.clock.now()
    whole.state = CopyState.STARTING
    outcomes = await asyncio.gather(
        *(fleet.start(member) for member in spec.containers), return_exceptions=True
    )
    members = [m for m in outcomes if isinstance(m, Copy)]
    failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
    # A member that was ready and died while the others were starting fails the set too;
    # from here to the parent links below nothing awaits, so none can die unnoticed.
    gone = next((m for m in members if m.state in _DOWN), None)
    if failure is not None or gone is not None:
        whole.state = CopyState.FAILED
        await asyncio.gather(*(fleet.stop(m, drain_timeout_s=0.0) for m in members))
        if isinstance(failure, StartFailed):
            whole.failure_reason = failure.reason
        if failure is not None:
            raise failure  # a member's StartFailed, or the start being called off
        assert gone is not None
        reason = f"Container {gone.spec.container} stopped while the others started: " + (
            gone.failure_reason or "no reason given"
        )
        whole.failure_reason = reason
        raise StartFailed(reason)
    for member in members:
        member.parent = whole
    whole.members = tuple(members)
    whole.resolved_image = members[0].resolved_image if members else ""
    whole.pid = members[0].pid if members else None
    whole.log_path = members[0].log_path if members else ""
    whole.state = CopyState.READY
    whole.ready_at = fleet.clock.now()
    return whole


def member_gone(member: Copy, stop: Stop) -> Copy | None:
    """A member stopped serving: mark its set gone and stop the rest; the set, if it was ready.

    Returns the set to report to the exit callbacks (None if the set was
    already stopping or gone, which reports nothing).
    """
    whole = member.parent
    if whole is None or whole.state is not CopyState.READY:
        return None
    whole.state = member.state if member.state in _DOWN else CopyState.CRASHED
    whole.failure_reason = (
        f"container {member.spec.container} {member.failure_reason or 'stopped serving'}"
    )
    for other in whole.members:
        if other is not member:
            task: asyncio.Task[None] = asyncio.get_running_loop().create_task(stop(other))
            _KEEP.add(task)
            task.add_done_callback(_KEEP.discard)
    return whole


async def stop_set(whole: Copy, stop: Stop, drain_timeout_s: float, clock: Clock) -> None:
    """Let the set's requests finish (up to ``drain_timeout_s``), then stop every member."""
    if whole.state is CopyState.READY:
        whole.state = CopyState.STOPPING
    deadline = clock.now() + drain_timeout_s
    while whole.inflight > 0 and clock.now() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.gather(*(stop(m) for m in whole.members), return_exceptions=True)
    if whole.state is CopyState.STOPPING:
        whole.state = CopyState.STOPPED


# Stop tasks of the members of a set that went down, kept until done.
_KEEP: set[asyncio.Task[None]] = set()
