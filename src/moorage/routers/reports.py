"""What a router process tells the server process: invocations and requests in flight.

The server keeps every metric (moorage.monitoring), so a router gathers the
invocations it answers in an
:class:`~moorage.monitoring.invocation_batch.InvocationBatch`, and
:meth:`Reports.take` turns them into one ``report`` line every
:data:`FLUSH_S`, with the requests in flight on each copy (for
``ConcurrentRequestsPerModel``). Each group of invocations (``v``: endpoint,
variant, config and instance count; ``c``: component and copy count) travels
with its statuses and latencies as packed arrays, so a report of thousands
of invocations costs the router little to write. :func:`replay` records the
groups into the server's
:class:`~moorage.monitoring.sagemaker.InvocationMetrics`: the same data as
if the server had answered them.
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from moorage.fleet.base import Copy
from moorage.monitoring.invocation_batch import Group, InvocationBatch, record
from moorage.monitoring.sagemaker import InvocationMetrics

# Seconds between reports: metrics reach the server at most this late.
FLUSH_S = 0.2


def _pack(values: array[Any]) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")


def _unpack(kind: str, text: str) -> array[Any]:
    values = array(kind)
    values.frombytes(base64.b64decode(text))
    return values


def _packed(group: Group) -> list[str]:
    return [_pack(group.statuses), _pack(group.model), _pack(group.overhead)]


def _group(statuses: str, model: str, overhead: str) -> Group:
    group = Group()
    group.statuses = _unpack("H", statuses)
    group.model = _unpack("d", model)
    group.overhead = _unpack("d", overhead)
    return group


class Reports(InvocationBatch):
    """A router's invocation observer, and the reports made of what it gathered."""

    def __init__(self, copies: Callable[[], Mapping[str, Copy]]) -> None:
        super().__init__()
        self._copies = copies
        # Copy id -> in flight, as last reported (only changes are sent).
        self._inflight: dict[str, int] = {}

    def take_report(self) -> dict[str, object] | None:
        """The next ``report`` message, or None when there is nothing new to say."""
        now = {i: c.inflight for i, c in self._copies().items() if c.inflight}
        changed = {i: n for i, n in now.items() if self._inflight.get(i) != n}
        changed.update({i: 0 for i in self._inflight if i not in now})
        self._inflight = now
        if self.empty and not changed:
            return None
        variants, components = self.take()
        return {
            "t": "report",
            "v": [[*key, *_packed(group)] for key, group in variants.items()],
            "c": [[*key, *_packed(group)] for key, group in components.items()],
            "inflight": changed,
        }


def replay(message: Mapping[str, Any], metrics: InvocationMetrics) -> None:
    """Record a report's invocations into ``metrics``."""
    variants = {(e, v, c, int(n)): _group(*rest) for e, v, c, n, *rest in message.get("v", ())}
    components = {(name, int(n)): _group(*rest) for name, n, *rest in message.get("c", ())}
    record(metrics, variants, components)
