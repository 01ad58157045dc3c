"""Metric math nesting: refused past the limit, long chains walked without recursion."""

from __future__ import annotations

import datetime as dt

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import MetricKey, MetricStore
from moorage.monitoring.errors import MetricsValidationError
from moorage.monitoring.expressions import MAX_NESTING, BinOp, parse, references, walk
from moorage.monitoring.metric_data import MetricDataQuery, MetricStat, evaluate_queries

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_NESTING + 1) + "m1" + ")" * (MAX_NESTING + 1),
        "-" * (MAX_NESTING + 1) + "m1",
        "m1^" * (MAX_NESTING + 1) + "m1",
        "ABS(" * (MAX_NESTING + 1) + "m1" + ")" * (MAX_NESTING + 1),
        "[" * (MAX_NESTING + 1) + "m1" + "]" * (MAX_NESTING + 1),
        "(" * 1_000 + "m1" + ")" * 1_000,
        "-(" * 680 + "m1" + ")" * 680,
    ],
)
def test_nesting_past_the_limit_is_refused(text: str) -> None:
    with pytest.raises(MetricsValidationError, match=f"nests more than {MAX_NESTING} levels"):
        parse(text, "e1")


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse("(" * MAX_NESTING + "m1" + ")" * MAX_NESTING) is not None
    assert parse("-" * MAX_NESTING + "m1") is not None
    assert parse("SUM([" + "(" * (MAX_NESTING - 2) + "m1" + ")" * (MAX_NESTING - 2) + "])")


def test_a_long_chain_is_one_level_and_walked_without_recursion() -> None:
    node = parse(" + ".join(f"m{n}" for n in range(1, 5_001)))
    assert isinstance(node, BinOp)
    assert references(node) == {f"m{n}" for n in range(1, 5_001)}
    assert sum(1 for _ in walk(node)) == 9_999


def test_a_long_chain_and_a_long_reference_chain_evaluate() -> None:
    clock = FakeClock(T0 + 600)
    store = MetricStore(clock)
    key = MetricKey.of("App", "Hits", {})
    store.recorder(key, "Count").record(2.0, T0 + 60)
    metric = MetricDataQuery("m1", MetricStat(key, 60, "Sum"), return_data=False)
    chain = MetricDataQuery("c", expression=" + ".join(["m1"] * 3_000), return_data=True)
    # r1 = r2 + 1, ..., r498 = m1: 500 queries (the most a request has), each reading the next.
    refs = [
        MetricDataQuery(f"r{n}", expression=f"r{n + 1} + 1", return_data=n == 1)
        for n in range(1, 498)
    ] + [MetricDataQuery("r498", expression="m1", return_data=False)]
    results = evaluate_queries(store, [metric, chain, *refs], T0, T0 + 300)
    by_id = {r.id: r for r in results}
    assert [v for _, v in by_id["c"].points()] == [6_000.0]
    assert [v for _, v in by_id["r1"].points()] == [2.0 + 497]
