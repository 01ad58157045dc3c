"""Invocations recorded in groups: every reader of the store sees every invocation."""

from __future__ import annotations

import asyncio
import datetime as dt

from moorage.clock import FakeClock
from moorage.monitoring import InvocationMetrics, MetricKey, MetricStore
from moorage.monitoring.invocation_batch import FLUSH_S, BatchedInvocations

T0 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC).timestamp()
DIMS = {"EndpointName": "ep", "VariantName": "AllTraffic"}


def _invocations(store: MetricStore) -> float:
    key = MetricKey.of("AWS/SageMaker", "Invocations", DIMS)
    points = store.get_statistics(key, T0, T0 + 60, 60, ["Sum"])
    return sum(dict(p.values)["Sum"] for p in points)


def test_a_read_of_the_store_records_what_was_gathered_first() -> None:
    async def scenario() -> None:
        store = MetricStore(FakeClock(T0 + 1))
        batched = BatchedInvocations(InvocationMetrics(store), store)
        for _ in range(5):
            batched.invoked("ep", "AllTraffic", "cfg", 200, 0.001, 0.0001, 1)
        assert not batched.empty
        # Long before the timer: the read itself records them.
        assert _invocations(store) == 5.0
        assert batched.empty
        batched.invoked("ep", "AllTraffic", "cfg", 500, 0.001, 0.0001, 1)
        batched.component_invoked("comp", 2, 200, 0.002, 0.0)
        # Nobody reads: the timer records them.
        await asyncio.sleep(FLUSH_S * 3)
        assert batched.empty
        assert _invocations(store) == 6.0

    asyncio.run(scenario())


def test_without_an_event_loop_each_invocation_is_recorded_at_once() -> None:
    store = MetricStore(FakeClock(T0 + 1))
    batched = BatchedInvocations(InvocationMetrics(store), store)
    batched.invoked("ep", "AllTraffic", None, 200, 0.001, 0.0001)
    assert batched.empty
    assert _invocations(store) == 1.0
