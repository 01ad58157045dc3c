"""GetMetricData: metric stats, metric math, errors and paging."""

from __future__ import annotations

import datetime as dt

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import (
    InvalidNextToken,
    MetricDataQuery,
    MetricKey,
    MetricStat,
    MetricStore,
    MetricsValidationError,
    ScanBy,
    StatusCode,
    get_metric_data,
)

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()
INVOCATIONS = MetricKey.of("AWS/SageMaker", "Invocations", {"EndpointName": "e"})
ERRORS = MetricKey.of("AWS/SageMaker", "Invocation5XXErrors", {"EndpointName": "e"})


@pytest.fixture
def store() -> MetricStore:
    """Four 10-second periods: invocations 10, 20, -, 40; errors 1, 0, 3, 4."""
    clock = FakeClock(T0 + 60)
    store = MetricStore(clock)
    invocations = store.recorder(INVOCATIONS, "Count")
    errors = store.recorder(ERRORS, "Count")
    for period, count in enumerate([10, 20, 0, 40]):
        for n in range(count):
            invocations.record(1.0, T0 + period * 10 + n % 10)
    for period, count in enumerate([1, 0, 3, 4]):
        errors.record(float(count), T0 + period * 10)
    return store


def _stat(qid: str, key: MetricKey, stat: str = "Sum", **kw: object) -> MetricDataQuery:
    return MetricDataQuery(qid, MetricStat(key, 10, stat), **kw)  # type: ignore[arg-type]


def _expr(qid: str, expression: str, **kw: object) -> MetricDataQuery:
    return MetricDataQuery(qid, expression=expression, **kw)  # type: ignore[arg-type]


def _run(
    store: MetricStore, *queries: MetricDataQuery, **kw: object
) -> dict[str, list[tuple[float, float]]]:
    page = get_metric_data(
        store,
        queries,
        T0,
        T0 + 40,
        scan_by=ScanBy.TIMESTAMP_ASCENDING,
        **kw,  # type: ignore[arg-type]
    )
    return {r.id: [(t - T0, v) for t, v in r.points()] for r in page.results}


def test_metric_stat_results_are_newest_first_by_default(store: MetricStore) -> None:
    page = get_metric_data(store, [_stat("m1", INVOCATIONS)], T0, T0 + 40)
    [result] = page.results
    assert (result.id, result.label, result.status_code) == ("m1", "Invocations", "Complete")
    assert [t - T0 for t in result.timestamps] == [30, 10, 0]
    assert result.values == (40.0, 20.0, 10.0)
    assert page.next_token is None


def test_labels_and_return_data(store: MetricStore) -> None:
    page = get_metric_data(
        store,
        [_stat("m1", INVOCATIONS, label="calls", return_data=False), _expr("e1", "m1 * 2")],
        T0,
        T0 + 40,
    )
    assert [(r.id, r.label) for r in page.results] == [("e1", "e1")]


def test_arithmetic_between_series_keeps_common_timestamps(store: MetricStore) -> None:
    results = _run(
        store,
        _stat("inv", INVOCATIONS),
        _stat("err", ERRORS),
        _expr("rate", "100 * err / inv"),
        _expr("shifted", "-(inv - 5) ^ 1 + err"),
    )
    assert results["rate"] == [(0, 10.0), (10, 0.0), (30, 10.0)]
    assert results["shifted"] == [(0, -4.0), (10, -15.0), (30, -31.0)]


def test_division_by_zero_leaves_a_gap(store: MetricStore) -> None:
    results = _run(store, _stat("inv", INVOCATIONS), _stat("err", ERRORS), _expr("x", "inv/err"))
    assert results["x"] == [(0, 10.0), (30, 10.0)]


def test_reductions_of_one_series_are_scalars_over_the_range(store: MetricStore) -> None:
    results = _run(
        store,
        _stat("inv", INVOCATIONS, return_data=False),
        _expr("total", "SUM(inv)"),
        _expr("share", "inv / SUM(inv) * 70"),
        _expr("spread", "MAX(inv) - MIN(inv) + AVG(inv)"),
    )
    # A scalar result fills every period of the range.
    assert results["total"] == [(0, 70.0), (10, 70.0), (20, 70.0), (30, 70.0)]
    assert results["share"] == [(0, 10.0), (10, 20.0), (30, 40.0)]
    assert results["spread"] == [(t, 30.0 + 70 / 3) for t in (0, 10, 20, 30)]


def test_reductions_of_arrays_are_series(store: MetricStore) -> None:
    results = _run(
        store,
        _stat("inv", INVOCATIONS, return_data=False),
        _stat("err", ERRORS, return_data=False),
        _expr("all", "SUM(METRICS())"),
        _expr("listed", "MAX([inv, err])"),
        _expr("args", "MIN(inv, err)"),
        _expr("avg", "AVG(METRICS('er'))"),
    )
    assert results["all"] == [(0, 11.0), (10, 20.0), (20, 3.0), (30, 44.0)]
    assert results["listed"] == [(0, 10.0), (10, 20.0), (20, 3.0), (30, 40.0)]
    assert results["args"] == [(0, 1.0), (10, 0.0), (20, 3.0), (30, 4.0)]
    assert results["avg"] == [(0, 1.0), (10, 0.0), (20, 3.0), (30, 4.0)]


def test_array_results_are_one_result_per_member(store: MetricStore) -> None:
    page = get_metric_data(
        store,
        [
            _stat("inv", INVOCATIONS, return_data=False),
            _stat("err", ERRORS, return_data=False, label="errors"),
            _expr("both", "METRICS() * 2"),
        ],
        T0,
        T0 + 40,
        scan_by=ScanBy.TIMESTAMP_ASCENDING,
    )
    assert [(r.id, r.label, r.values[0]) for r in page.results] == [
        ("both", "Invocations", 20.0),
        ("both", "errors", 2.0),
    ]


def test_abs_and_fill(store: MetricStore) -> None:
    results = _run(
        store,
        _stat("inv", INVOCATIONS, return_data=False),
        _expr("a", "ABS(5 - inv)"),
        _expr("zero", "FILL(inv, 0)"),
        _expr("repeat", "FILL(inv, REPEAT)"),
        _expr("linear", "FILL(inv, LINEAR)"),
    )
    assert results["a"] == [(0, 5.0), (10, 15.0), (30, 35.0)]
    assert results["zero"] == [(0, 10.0), (10, 20.0), (20, 0.0), (30, 40.0)]
    assert results["repeat"] == [(0, 10.0), (10, 20.0), (20, 20.0), (30, 40.0)]
    assert results["linear"] == [(0, 10.0), (10, 20.0), (20, 30.0), (30, 40.0)]


def test_percentiles_through_metric_stat(store: MetricStore) -> None:
    latency = MetricKey.of("App", "Latency")
    rec = store.recorder(latency, "Milliseconds")
    for n in range(1, 51):
        rec.record(float(n), T0 + 5)
    results = _run(store, _stat("p", latency, "p90"), _stat("t", latency, "tm90"))
    assert results == {"p": [(0, 45.0)], "t": [(0, 23.0)]}


@pytest.mark.parametrize(
    ("queries", "text"),
    [
        ([_expr("e1", "FOO(1)")], "Error in expression e1: Unknown function FOO"),
        ([_expr("e1", "m9 + 1")], "Error in expression e1: Unrecognized identifier m9"),
        ([_expr("e1", "e2"), _expr("e2", "e1 * 2")], "Circular dependency"),
        ([_expr("e1", "1 +")], "Unexpected end of expression"),
        ([_expr("e1", "(1 + 2")], "Expected"),
        ([_expr("e1", "1 $ 2")], 'Unexpected character "$"'),
        ([_expr("e1", "Foo")], "Unknown identifier Foo"),
        ([_expr("e1", "1"), _expr("e1", "2")], "not unique"),
        ([_expr("E1", "1")], "MetricDataQueries.member.1.Id is invalid"),
        ([MetricDataQuery("e1")], "Exactly one of"),
        ([_stat("m1", INVOCATIONS, "Median")], "Median"),
        ([MetricDataQuery("m1", MetricStat(INVOCATIONS, 7, "Sum"))], "Period"),
        ([], "MetricDataQueries is required"),
        ([_expr("e1", "REPEAT")], "only allowed as a function argument"),
        ([_expr("e1", "FILL(METRICS(), [1])")], "array can only hold time series"),
    ],
)
def test_invalid_queries_are_validation_errors(
    store: MetricStore, queries: list[MetricDataQuery], text: str
) -> None:
    with pytest.raises(MetricsValidationError) as caught:
        get_metric_data(store, queries, T0, T0 + 40)
    assert text in caught.value.message
    assert caught.value.code == "ValidationError"


def test_paging_by_max_datapoints(store: MetricStore) -> None:
    queries = [_stat("inv", INVOCATIONS), _stat("err", ERRORS)]
    pages = []
    token = None
    while True:
        page = get_metric_data(
            store,
            queries,
            T0,
            T0 + 40,
            max_datapoints=3,
            next_token=token,
            scan_by=ScanBy.TIMESTAMP_ASCENDING,
        )
        pages.append([(r.id, len(r.values), r.status_code) for r in page.results])
        token = page.next_token
        if token is None:
            break
    assert pages == [
        [("inv", 3, StatusCode.COMPLETE)],
        [("err", 3, StatusCode.PARTIAL_DATA)],
        [("err", 1, StatusCode.COMPLETE)],
    ]


def test_a_token_only_fits_its_own_request(store: MetricStore) -> None:
    queries = [_stat("inv", INVOCATIONS)]
    page = get_metric_data(store, queries, T0, T0 + 40, max_datapoints=1)
    assert page.next_token is not None
    with pytest.raises(InvalidNextToken):
        get_metric_data(store, queries, T0, T0 + 50, max_datapoints=1, next_token=page.next_token)
    with pytest.raises(InvalidNextToken):
        get_metric_data(store, queries, T0, T0 + 40, next_token="garbage!")
