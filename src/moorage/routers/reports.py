"""What a router process tells the server process: invocations and requests in flight.

The server keeps every metric (moorage.monitoring), so a router records each
invocation it answers here, and :meth:`Reports.take` gathers them into one
``report`` line every :data:`FLUSH_S`, with the requests in flight on each
copy (for ``ConcurrentRequestsPerModel``). Invocations are grouped by what
they share — endpoint, variant, config and instance count (``v``), or
component and copy count (``c``) — and each group's statuses and latencies
travel as packed arrays, so a report of thousands of invocations costs the
router little to write. :func:`replay` hands each group to the server's
:class:`~moorage.monitoring.sagemaker.InvocationMetrics` in one call, which
records the same data as one call per invocation would.
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from moorage.fleet.base import Copy

# Seconds between reports: metrics reach the server at most this late.
FLUSH_S = 0.2


class BatchObserver(Protocol):
    """Records groups of invocations (:class:`moorage.monitoring.sagemaker.InvocationMetrics`)."""

    def invoked_many(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        statuses: Sequence[int],
        model_latencies_s: Sequence[float],
        overheads_s: Sequence[float],
        instances: int = 0,
    ) -> None: ...

    def component_invoked_many(
        self,
        component: str,
        copies: int,
        statuses: Sequence[int],
        model_latencies_s: Sequence[float],
        overheads_s: Sequence[float],
    ) -> None: ...


class _Batch:
    __slots__ = ("model", "overhead", "statuses")

    def __init__(self) -> None:
        self.statuses = array("H")
        self.model = array("d")
        self.overhead = array("d")

    def add(self, status: int, model_s: float, overhead_s: float) -> None:
        self.statuses.append(status)
        self.model.append(model_s)
        self.overhead.append(overhead_s)

    def packed(self) -> list[str]:
        return [_pack(self.statuses), _pack(self.model), _pack(self.overhead)]


def _pack(values: array[Any]) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")


def _unpack(kind: str, text: str) -> array[Any]:
    values = array(kind)
    values.frombytes(base64.b64decode(text))
    return values


class Reports:
    """An :class:`~moorage.runtime.invoke.InvocationObserver` that batches for the server."""

    def __init__(self, copies: Callable[[], Mapping[str, Copy]]) -> None:
        self._copies = copies
        self._variants: dict[tuple[str, str, str | None, int], _Batch] = {}
        self._components: dict[tuple[str, int], _Batch] = {}
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
        key = (endpoint, variant, config_name, instances)
        batch = self._variants.get(key)
        if batch is None:
            batch = self._variants[key] = _Batch()
        batch.add(status, model_latency_s, overhead_s)

    def component_invoked(
        self,
        component: str,
        copies: int,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        key = (component, copies)
        batch = self._components.get(key)
        if batch is None:
            batch = self._components[key] = _Batch()
        batch.add(status, model_latency_s, overhead_s)

    def take(self) -> dict[str, object] | None:
        """The next ``report`` message, or None when there is nothing new to say."""
        now = {i: c.inflight for i, c in self._copies().items() if c.inflight}
        changed = {i: n for i, n in now.items() if self._inflight.get(i) != n}
        changed.update({i: 0 for i in self._inflight if i not in now})
        self._inflight = now
        if not self._variants and not self._components and not changed:
            return None
        variants = [[*key, *batch.packed()] for key, batch in self._variants.items()]
        components = [[*key, *batch.packed()] for key, batch in self._components.items()]
        self._variants = {}
        self._components = {}
        return {"t": "report", "v": variants, "c": components, "inflight": changed}


def replay(message: Mapping[str, Any], observer: BatchObserver) -> None:
    """Record a report's invocations through ``observer``."""
    group: Sequence[Any]
    for group in message.get("v", ()):
        endpoint, variant, config_name, instances, statuses, model, overhead = group
        observer.invoked_many(
            endpoint,
            variant,
            config_name,
            _unpack("H", statuses),
            _unpack("d", model),
            _unpack("d", overhead),
            instances,
        )
    for group in message.get("c", ()):
        component, copies, statuses, model, overhead = group
        observer.component_invoked_many(
            component, copies, _unpack("H", statuses), _unpack("d", model), _unpack("d", overhead)
        )
