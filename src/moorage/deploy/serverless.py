"""Serverless variants: a copy while the variant is in use, none when idle.

A variant with ``ServerlessConfig`` has one instance slot per group, as the
endpoint's groups say; the reconciler asks :meth:`ServerlessFleet.wanted`
whether that slot should run now:

- while the endpoint is being created or updated (or recovering after a
  restart), so the model is started, checked and ready as AWS provisions it;
- while its ``ProvisionedConcurrency`` (the effective one,
  :mod:`moorage.domain.serverless`) is above 0: kept warm;
- while it is in use: a request was admitted within the last ``idle_s``
  seconds of the server's clock, or one is in flight or waiting;
- otherwise it is idle: its copy is drained and stopped.

A request for a variant with no copy waits for one
(:mod:`moorage.runtime.hold`) and wakes this fleet through its
:class:`~moorage.runtime.serverless_gate.ServerlessGate`, which pokes the
reconciler; the gate also enforces ``MaxConcurrency`` in the data plane.
One copy serves the variant (a moorage model server takes many requests at
once); ``MemorySizeInMB`` is its memory budget
(:func:`moorage.deploy.copy_placement.for_variant`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from moorage.domain.endpoint import Endpoint, EndpointStatus, Group
from moorage.domain.serverless import ServerlessSettings
from moorage.runtime.serverless_gate import ServerlessGate

# How long a serverless variant stays warm after its last request (server clock).
DEFAULT_IDLE_S = 300.0


@dataclass
class _Demand:
    gate: ServerlessGate
    # ``gate.admitted`` when last looked at, and when the variant was last in use.
    seen: int = 0
    active_at: float = 0.0


class ServerlessFleet:
    def __init__(self, poke: Callable[[], None], idle_s: float = DEFAULT_IDLE_S) -> None:
        self.poke = poke
        self.idle_s = idle_s
        # (lower-cased endpoint, variant) -> demand.
        self._demand: dict[tuple[str, str], _Demand] = {}

    def gate(self, endpoint: str, variant: str, settings: ServerlessSettings) -> ServerlessGate:
        """The variant's gate (made on first use), at its current MaxConcurrency."""
        demand = self._demand.get((endpoint.lower(), variant))
        if demand is None:
            demand = self._demand[(endpoint.lower(), variant)] = _Demand(
                ServerlessGate(settings.max_concurrency, self.poke)
            )
        demand.gate.max_concurrency = settings.max_concurrency
        return demand.gate

    def wanted(
        self, endpoint: Endpoint, group: Group, settings: ServerlessSettings, now: float
    ) -> tuple[int, float | None]:
        """How many of ``group``'s slots run now, and when to look again (clock time)."""
        gate = self.gate(endpoint.name, group.variant, settings)
        demand = self._demand[(endpoint.name.lower(), group.variant)]
        if (
            demand.gate.admitted != demand.seen
            or demand.gate.inflight > 0
            or endpoint.status is not EndpointStatus.IN_SERVICE
        ):
            demand.seen = gate.admitted
            demand.active_at = now
        if settings.provisioned_concurrency:
            return group.target, None
        idle_at = demand.active_at + self.idle_s
        if now < idle_at:
            return group.target, idle_at
        return 0, None

    def forget(self, endpoint: str) -> None:
        """The endpoint is gone: drop its gates."""
        key = endpoint.lower()
        for found in [k for k in self._demand if k[0] == key]:
            del self._demand[found]
