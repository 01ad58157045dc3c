"""Health checks of running copies: how often, and when a copy counts as unhealthy.

SageMaker pings every instance of an endpoint (``GET /ping``) while it
serves and replaces one that stops answering 200. The local fleet
(:mod:`moorage.fleet.local`) does the same for every ``READY`` copy: a ping
every :attr:`HealthPolicy.interval_s`, each allowed
:attr:`HealthPolicy.timeout_s` (SageMaker's 2 s), and
:attr:`HealthPolicy.failures` failed pings in a row make the copy unhealthy:
it is then replaced exactly like a copy that crashed (the fleet's exit
callbacks, then the process is killed). :class:`FailedPings` is the pure
bookkeeping of that count.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass


@dataclass(frozen=True)
class HealthPolicy:
    # Time between two pings of one copy. Each ping wakes an idle copy and the
    # server; at 5 s, 300 idle copies cost a few hundredths of a core in all
    # (bench/idle_copies.py), still far more often than Kubernetes' or an AWS
    # load balancer's default health checks (10 s and 30 s).
    interval_s: float = 5.0
    # How long one ping may take before it counts as failed.
    timeout_s: float = 2.0
    # Failed pings in a row that make a copy unhealthy.
    failures: int = 3

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and self.timeout_s > 0 and self.failures >= 1):
            raise ValueError(f"invalid health policy {self}")


class FailedPings:
    """Failed pings in a row, per copy id; one good ping clears a copy's count."""

    def __init__(self, policy: HealthPolicy) -> None:
        self.policy = policy
        # Copy id → (failed pings in a row, what the last one said).
        self._failed: dict[str, tuple[int, str]] = {}

    def record(self, copy_id: str, failure: str | None) -> str | None:
        """Note one ping (``failure`` None: it answered 200).

        Returns the reason the copy is unhealthy once it has failed
        ``policy.failures`` pings in a row, None until then.
        """
        if failure is None:
            self._failed.pop(copy_id, None)
            return None
        count = self._failed.get(copy_id, (0, ""))[0] + 1
        if count < self.policy.failures:
            self._failed[copy_id] = (count, failure)
            return None
        self._failed.pop(copy_id, None)
        return f"failed {count} health checks in a row (last: {failure})"

    def retain(self, copy_ids: Set[str]) -> None:
        """Forget copies no longer checked (stopped, exited, replaced)."""
        for copy_id in [c for c in self._failed if c not in copy_ids]:
            del self._failed[copy_id]

    def failing(self, copy_id: str) -> int:
        """Failed pings in a row so far."""
        return self._failed.get(copy_id, (0, ""))[0]
