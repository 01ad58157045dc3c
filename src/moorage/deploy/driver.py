"""Drives rollouts from the reconciler: observe, advance, persist, then act.

The reconciler calls :meth:`RolloutDriver.hook` on every endpoint each pass,
before it matches processes to groups. For an endpoint with a deployment the
driver gathers the facts (are the current layout's instances healthy? did
one fail to start? is a rollback alarm in ALARM?), advances the pure state
machine, and returns the endpoint with its groups, variants and status as
the new state wants; the reconciler persists that before starting or
stopping anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from moorage.clock import Clock
from moorage.deploy.deployment import Deployment
from moorage.deploy.rollout import Event, Facts, Phase, advance, settle
from moorage.domain.endpoint import Endpoint


class FleetView(Protocol):
    """What the reconciler knows about one endpoint's instances."""

    def ready(self, group_id: str, target: int) -> int:
        """Healthy instances among the group's first ``target``."""
        ...

    def failure(self, group_id: str, target: int) -> str | None:
        """Why one of the group's first ``target`` instances could not start, if one could not."""
        ...


# names → the first alarm among them in ALARM, or None.
AlarmCheck = Callable[[Sequence[str]], str | None]


def no_alarms(names: Sequence[str]) -> str | None:
    return None


class RolloutDriver:
    def __init__(
        self,
        clock: Clock,
        *,
        alarms: AlarmCheck = no_alarms,
        schedule: Callable[[float], None] = lambda at: None,
    ) -> None:
        self.clock = clock
        self.alarms = alarms
        self.schedule = schedule
        self._resumed: set[str] = set()

    def hook(self, endpoint: Endpoint, fleet: FleetView) -> Endpoint:
        if endpoint.deployment is None:
            return endpoint
        deployment = Deployment.from_doc(endpoint.deployment)
        now = self.clock.now()
        rollout = deployment.rollout
        if endpoint.name.lower() not in self._resumed:
            # First sight since this server started: a wait in progress starts over.
            self._resumed.add(endpoint.name.lower())
            rollout = advance(rollout, Facts(now), Event.RESUMED)
        layouts = rollout.current.layouts
        # Only the fleet being brought up decides: the new one going forward, the old
        # one when rolling back (a new fleet that cannot start must not block that).
        old_ids = {ids.blue for ids in deployment.fleets.values()}
        new_ids = {ids.green for ids in deployment.fleets.values()}
        side = old_ids if rollout.rolling_back or rollout.kind == "capacity" else new_ids
        groups = [g for g in deployment.groups(layouts) if g.id in side]
        ready = all(fleet.ready(g.id, g.target) >= g.target for g in groups)
        failure = next(
            (f for g in groups if (f := fleet.failure(g.id, g.target)) is not None), None
        )
        alarm = self.alarms(rollout.alarms) if rollout.alarms else None
        rollout = settle(rollout, Facts(now, ready=ready, failure=failure, alarm=alarm))
        if rollout.phase is Phase.WAITING:
            self.schedule(rollout.since + rollout.current.wait_s)
        if not rollout.rolling_back and not rollout.finished:
            self.schedule(rollout.deadline)
        if rollout.finished:
            self._resumed.discard(endpoint.name.lower())
        return deployment.with_rollout(rollout).apply(endpoint, now)
