"""What a router process tells the server process: invocations and requests in flight.

The server keeps every metric (moorage.monitoring), so a router records each
invocation it answers here and :meth:`Reports.flush` sends them in one line
every :data:`FLUSH_S`, with the requests in flight on each copy (for
``ConcurrentRequestsPerModel``). Records are plain lists, the arguments of
:meth:`moorage.runtime.invoke.InvocationObserver.invoked` (``"v"``) and
``component_invoked`` (``"c"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from moorage.fleet.base import Copy

# Seconds between reports: metrics reach the server at most this late.
FLUSH_S = 0.5

Record = list[object]


class Reports:
    """An :class:`~moorage.runtime.invoke.InvocationObserver` that batches for the server."""

    def __init__(self, copies: Callable[[], Mapping[str, Copy]]) -> None:
        self._copies = copies
        self._records: list[Record] = []
        # Copy id -> in flight, as last reported (only changes are sent).
        self._inflight: dict[str, int] = {}

    def invoked(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        status: int,
        model_latency_s: float,
        overhead_s: float,
        instances: int = 0,
    ) -> None:
        self._records.append(
            ["v", endpoint, variant, config_name, status, model_latency_s, overhead_s, instances]
        )

    def component_invoked(
        self,
        component: str,
        copies: int,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        self._records.append(["c", component, copies, status, model_latency_s, overhead_s])

    def take(self) -> dict[str, object] | None:
        """The next ``report`` message, or None when there is nothing new to say."""
        now = {i: c.inflight for i, c in self._copies().items() if c.inflight}
        changed = {i: n for i, n in now.items() if self._inflight.get(i) != n}
        changed.update({i: 0 for i in self._inflight if i not in now})
        self._inflight = now
        if not self._records and not changed:
            return None
        records, self._records = self._records, []
        return {"t": "report", "records": records, "inflight": changed}
