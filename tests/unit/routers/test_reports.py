"""A router's report: the server records exactly what it would have recorded itself.

Invocations go through a router's :class:`Reports`, a JSON line and
:func:`replay` into one metric store, and straight into another through
``InvocationMetrics.invoked`` one by one; every SageMaker series of both
stores must give the same statistics.
"""

from __future__ import annotations

import datetime as dt
import json

from moorage.clock import FakeClock
from moorage.fleet.base import Copy, CopySpec
from moorage.monitoring import InvocationMetrics, MetricStore
from moorage.routers.reports import Reports, replay
from moorage.routers.wire import encode_line

T0 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC).timestamp()
STATISTICS = ["SampleCount", "Sum", "Minimum", "Maximum", "Average", "p50", "p99"]

VARIANT_CALLS = [
    ("ep", "AllTraffic", "cfg-1", 200, 0.0012, 0.0003, 2),
    ("ep", "AllTraffic", None, 424, 60.0, 0.0001, 2),
    ("ep", "AllTraffic", "cfg-1", 200, 0.5, 1e-6, 2),
    ("ep", "AllTraffic", "cfg-1", 404, 0.02, 0.001, 2),
    ("ep", "B", "cfg-1", 500, 0.25, 0.002, 0),
] + [("ep", "AllTraffic", "cfg-1", 200, i / 1000, i / 100000, 3) for i in range(100)]
COMPONENT_CALLS = [("comp", 3, 200, 0.01, 0.001), ("comp", 3, 503, 0.02, 0.0), ("c2", 0, 200, 1, 0)]


def _stores() -> tuple[FakeClock, MetricStore, MetricStore]:
    clock = FakeClock(T0 + 1)
    return clock, MetricStore(clock), MetricStore(clock)


def _statistics(store: MetricStore) -> dict[object, object]:
    found: dict[object, object] = {}
    for key in list(store.keys()):
        for unit in store.units(key):
            points = store.get_statistics(key, T0, T0 + 60, 60, STATISTICS, unit)
            found[(key, unit)] = [sorted(p.values) for p in points]
    return found


def test_a_report_records_what_the_invocations_would_have() -> None:
    clock, direct_store, reported_store = _stores()
    direct, reported = InvocationMetrics(direct_store), InvocationMetrics(reported_store)
    reports = Reports(dict)
    for call in VARIANT_CALLS:
        direct.invoked(*call)  # type: ignore[arg-type]
        reports.invoked(*call)  # type: ignore[arg-type]
    for call in COMPONENT_CALLS:
        direct.component_invoked(*call)  # type: ignore[arg-type]
        reports.component_invoked(*call)  # type: ignore[arg-type]
    message = reports.take_report()
    assert message is not None
    replay(json.loads(encode_line(message)), reported)
    clock.set(T0 + 61)
    expected = _statistics(direct_store)
    assert len(expected) >= 20
    assert _statistics(reported_store) == expected
    # Nothing is sent twice.
    assert reports.take_report() is None


def test_requests_in_flight_are_reported_when_they_change() -> None:
    copy = Copy(CopySpec("c-1", "ep", "AllTraffic", "img", None))
    reports = Reports(lambda: {"c-1": copy})
    assert reports.take_report() is None
    copy.inflight = 2
    message = reports.take_report()
    assert message is not None and message["inflight"] == {"c-1": 2}
    assert reports.take_report() is None
    copy.inflight = 0
    message = reports.take_report()
    assert message is not None and message["inflight"] == {"c-1": 0}
