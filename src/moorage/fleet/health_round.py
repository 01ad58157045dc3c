"""One round of health checks over a fleet's ready copies.

Both fleets (local processes and Ray actors) run it every
:attr:`~moorage.fleet.health.HealthPolicy.interval_s`: ping every ready copy
through the shared :class:`~moorage.fleet.pinger.Pinger`, count the failures
in a row in :class:`~moorage.fleet.health.FailedPings`, and hand a copy that
reached the policy's limit to ``unhealthy`` with the reason, which each fleet
carries out its own way (replace the copy, then kill its process or actor).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from moorage.fleet.base import Copy, CopyState
from moorage.fleet.health import FailedPings
from moorage.fleet.pinger import Pinger

log = logging.getLogger(__name__)


async def ping_round(
    copies: Iterable[Copy],
    pinger: Pinger,
    pings: FailedPings,
    timeout_s: float,
    unhealthy: Callable[[Copy, str], None],
) -> None:
    ready = [c for c in copies if c.state is CopyState.READY]
    pings.retain({c.copy_id for c in ready})
    pinger.retain({c.copy_id for c in ready})
    if not ready:
        return
    failures = await pinger.ping_all(ready, timeout_s)
    for copy, failure in zip(ready, failures, strict=True):
        if copy.state is not CopyState.READY:
            continue  # exited or being stopped meanwhile: not a health matter
        reason = pings.record(copy.copy_id, failure)
        if failure is not None:
            log.warning("copy %s failed a health check: %s", copy.copy_id, failure)
        if reason is not None:
            unhealthy(copy, reason)
