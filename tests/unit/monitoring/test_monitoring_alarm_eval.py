"""Alarm evaluation: operators, M out of N, missing data, reasons and reason data."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from moorage.clock import FakeClock
from moorage.monitoring import (
    AlarmDefinition,
    AlarmState,
    ComparisonOperator,
    MetricDataQuery,
    MetricKey,
    MetricStat,
    MetricStore,
    MetricsValidationError,
    StateValue,
    TreatMissingData,
    evaluate,
)

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()
# Five minutes of data, evaluated at 10:05:07: the window is 10:00-10:05.
NOW = T0 + 5 * 60 + 7
KEY = MetricKey.of("App", "Errors", {"Host": "a"})
GOOD, BAD = 1.0, 20.0

OK, ALARM, INSUFFICIENT = StateValue.OK, StateValue.ALARM, StateValue.INSUFFICIENT_DATA


def _alarm(
    n: int = 3,
    m: int | None = None,
    treat: TreatMissingData = TreatMissingData.MISSING,
    op: ComparisonOperator = ComparisonOperator.GREATER_THAN_THRESHOLD,
    threshold: float = 10.0,
    **kw: object,
) -> AlarmDefinition:
    fields: dict[str, object] = {
        "namespace": "App",
        "metric_name": "Errors",
        "dimensions": (("Host", "a"),),
        "statistic": "Maximum",
        "period": 60,
    }
    fields.update(kw)
    definition = AlarmDefinition(
        name="errors",
        comparison_operator=op,
        evaluation_periods=n,
        threshold=threshold,
        datapoints_to_alarm=m,
        treat_missing_data=treat,
        **fields,  # type: ignore[arg-type]
    )
    definition.validate()
    return definition


def _store(pattern: str = "", *, first_minute: int = 0) -> MetricStore:
    """``pattern`` is oldest first: ``0`` good, ``X`` breaching, ``-`` missing."""
    store = MetricStore(FakeClock(NOW))
    rec = store.recorder(KEY, "Count")
    for minute, mark in enumerate(pattern.split(), start=first_minute):
        if mark != "-":
            rec.record(BAD if mark == "X" else GOOD, T0 + minute * 60 + 30)
    return store


def _state(value: StateValue) -> AlarmState:
    return AlarmState(value, "before", None, T0 - 600, T0 - 600)


# CloudWatch's user guide, "How alarm state is evaluated when data is missing".
THREE_OF_THREE = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT, None, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - - - X", INSUFFICIENT, None, ALARM, OK),
]
TWO_OF_THREE = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - - X", INSUFFICIENT, None, ALARM, OK),
]
TREATMENTS = [
    TreatMissingData.MISSING,
    TreatMissingData.IGNORE,
    TreatMissingData.BREACHING,
    TreatMissingData.NOT_BREACHING,
]


@pytest.mark.parametrize(
    ("m", "pattern", "expected"),
    [(3, row[0], row[1:]) for row in THREE_OF_THREE]
    + [(2, row[0], row[1:]) for row in TWO_OF_THREE],
)
def test_missing_data_tables_of_the_user_guide(
    m: int, pattern: str, expected: tuple[StateValue | None, ...]
) -> None:
    store = _store(pattern)
    for treat, want in zip(TREATMENTS, expected, strict=True):
        for before in (OK, ALARM):
            result = evaluate(_alarm(3, m, treat), store, NOW, _state(before))
            # None: "retain current state".
            assert result.state is (want or before), (treat, before)
            assert result.retained is (want is None)


@pytest.mark.parametrize(
    ("op", "below", "at", "above"),
    [
        (ComparisonOperator.GREATER_THAN_THRESHOLD, OK, OK, ALARM),
        (ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, OK, ALARM, ALARM),
        (ComparisonOperator.LESS_THAN_THRESHOLD, ALARM, OK, OK),
        (ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD, ALARM, ALARM, OK),
    ],
)
def test_every_comparison_operator(
    op: ComparisonOperator, below: StateValue, at: StateValue, above: StateValue
) -> None:
    for value, want in ((5.0, below), (10.0, at), (15.0, above)):
        store = MetricStore(FakeClock(NOW))
        store.recorder(KEY).record(value, T0 + 4 * 60)
        assert evaluate(_alarm(1, op=op), store, NOW).state is want, value


@pytest.mark.parametrize(
    "op",
    [
        ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
        ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
        ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
    ],
)
def test_anomaly_band_operators_are_refused(op: ComparisonOperator) -> None:
    with pytest.raises(MetricsValidationError, match="anomaly detection band"):
        _alarm(1, op=op)


def test_m_out_of_n_counts_breaches_anywhere_in_the_last_n() -> None:
    # 2 of 4: breaches need not be consecutive.
    assert evaluate(_alarm(4, 2), _store("0 X 0 X 0"), NOW).state is ALARM
    assert evaluate(_alarm(4, 2), _store("X X 0 0 0"), NOW).state is OK
    assert evaluate(_alarm(4, 3), _store("X 0 X 0 X"), NOW).state is OK


def test_the_period_in_progress_is_not_evaluated() -> None:
    store = _store("0 0 0 0 0")
    store.recorder(KEY, "Count").record(BAD, NOW - 1)
    assert evaluate(_alarm(1), store, NOW).state is OK
    assert evaluate(_alarm(1), store, NOW + 60).state is ALARM


def test_reason_for_a_single_datapoint() -> None:
    store = MetricStore(FakeClock(T0 + 67))
    store.recorder(KEY).record(12.0, T0 + 12)
    result = evaluate(_alarm(1), store, T0 + 67)
    assert result.state is ALARM
    assert result.reason == (
        "Threshold Crossed: 1 datapoint [12.0 (21/11/26 10:00:00)] was greater than the "
        "threshold (10.0)."
    )
    store.recorder(KEY).record(5.0, T0 + 72)
    result = evaluate(_alarm(1), store, T0 + 127)
    assert result.reason == (
        "Threshold Crossed: 1 datapoint [5.0 (21/11/26 10:01:00)] was not greater than the "
        "threshold (10.0)."
    )


def test_reason_for_n_of_n_lists_the_datapoints_newest_first() -> None:
    result = evaluate(_alarm(3), _store("0 0 X X X"), NOW)
    assert result.reason == (
        "Threshold Crossed: 3 datapoints [20.0 (21/11/26 10:04:00), 20.0 (21/11/26 10:03:00), "
        "20.0 (21/11/26 10:02:00)] were greater than the threshold (10.0)."
    )


def test_reason_for_m_out_of_n() -> None:
    result = evaluate(_alarm(3, 2), _store("0 0 X 0 X"), NOW)
    assert result.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [20.0 (21/11/26 10:04:00), "
        "20.0 (21/11/26 10:02:00)] were greater than the threshold (10.0) "
        "(minimum 2 datapoints for OK -> ALARM transition)."
    )
    result = evaluate(_alarm(3, 2), _store("X X 0 0 X"), NOW)
    assert result.state is OK
    assert result.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [1.0 (21/11/26 10:03:00), "
        "1.0 (21/11/26 10:02:00)] were not greater than the threshold (10.0) "
        "(minimum 2 datapoints for ALARM -> OK transition)."
    )


def test_reasons_with_filled_missing_datapoints() -> None:
    breaching = TreatMissingData.BREACHING
    result = evaluate(_alarm(3, treat=breaching), _store("- - - - -"), NOW)
    assert result.reason == (
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing "
        "datapoints were treated as [Breaching]."
    )
    result = evaluate(_alarm(3, 2, treat=breaching), _store("- - - - 0"), NOW)
    assert result.reason == (
        "Threshold Crossed: 1 datapoint was received for 3 periods and 2 missing datapoints "
        "were treated as [Breaching] (minimum 2 datapoints for OK -> ALARM transition)."
    )
    result = evaluate(_alarm(2, treat=TreatMissingData.NOT_BREACHING), _store("- - - - 0"), NOW)
    assert result.reason == (
        "Threshold Crossed: 1 datapoint [1.0 (21/11/26 10:04:00)] was not greater than the "
        "threshold (10.0) and 1 missing datapoint was treated as [NonBreaching]."
    )
    result = evaluate(_alarm(3, treat=breaching), _store("- - - - 0"), NOW)
    assert result.state is OK
    assert result.reason == (
        "Threshold Crossed: 1 datapoint [1.0 (21/11/26 10:04:00)] was not greater than the "
        "threshold (10.0) and 2 missing datapoints were treated as [Breaching]."
    )


def test_reason_for_insufficient_data() -> None:
    result = evaluate(_alarm(3), _store("- - - - -"), NOW)
    assert (result.state, result.reason) == (
        INSUFFICIENT,
        "Insufficient Data: 3 datapoints were unknown.",
    )
    result = evaluate(_alarm(1), _store("- - - - -"), NOW)
    assert result.reason == "Insufficient Data: 1 datapoint was unknown."


def test_reason_data() -> None:
    # With at least N datapoints in the range, the most recent N are evaluated.
    result = evaluate(_alarm(2, 1, treat=TreatMissingData.BREACHING), _store("0 0 0 X -"), NOW)
    assert result.state is ALARM
    assert result.reason_data is not None
    assert json.loads(result.reason_data) == {
        "version": "1.0",
        "queryDate": "2026-11-21T10:05:07.000+0000",
        "startDate": "2026-11-21T10:02:00.000+0000",
        "statistic": "Maximum",
        "period": 60,
        # The evaluation range of N = 2 is 4 periods: 10:01 to 10:04.
        "recentDatapoints": [1.0, 1.0, 20.0],
        "threshold": 10.0,
        "evaluatedDatapoints": [
            {"timestamp": "2026-11-21T10:03:00.000+0000", "sampleCount": 1.0, "value": 20.0},
            {"timestamp": "2026-11-21T10:02:00.000+0000", "sampleCount": 1.0, "value": 1.0},
        ],
    }
    # Filled datapoints appear without a value.
    filled = evaluate(_alarm(3, treat=TreatMissingData.BREACHING), _store("- - - - X"), NOW)
    assert json.loads(filled.reason_data or "")["evaluatedDatapoints"] == [
        {"timestamp": "2026-11-21T10:04:00.000+0000", "sampleCount": 1.0, "value": 20.0},
        {"timestamp": "2026-11-21T10:03:00.000+0000"},
        {"timestamp": "2026-11-21T10:02:00.000+0000"},
    ]


def test_extended_statistic_alarm() -> None:
    store = MetricStore(FakeClock(NOW))
    rec = store.recorder(KEY, "Milliseconds")
    for n in range(1, 51):
        rec.record(float(n), T0 + 4 * 60 + 1)
    alarm = _alarm(1, statistic=None, extended_statistic="p90", threshold=44.0)
    result = evaluate(alarm, store, NOW)
    assert result.state is ALARM and "[45.0 (21/11/26 10:04:00)]" in result.reason
    assert json.loads(result.reason_data or "")["extendedStatistic"] == "p90"
    assert (
        evaluate(
            _alarm(1, statistic=None, extended_statistic="p90", unit="Seconds"), store, NOW
        ).state
        is INSUFFICIENT
    )


def test_low_sample_count_percentiles_can_be_ignored() -> None:
    store = MetricStore(FakeClock(NOW))
    rec = store.recorder(KEY)
    for n in range(50):
        rec.record(100.0, T0 + 4 * 60 + n % 60)

    def p99(low_samples: str) -> AlarmDefinition:
        return _alarm(
            1,
            statistic=None,
            extended_statistic="p99",
            evaluate_low_sample_count_percentile=low_samples,
        )

    # p99 needs 10 / (1 - 0.99) = 1000 samples; there are 50.
    ignored = evaluate(p99("ignore"), store, NOW, _state(OK))
    assert ignored.retained and ignored.state is OK
    evaluated = evaluate(p99("evaluate"), store, NOW, _state(OK))
    assert evaluated.state is ALARM


def test_metric_math_alarm() -> None:
    store = MetricStore(FakeClock(NOW))
    invocations = MetricKey.of("AWS/SageMaker", "Invocations", {"EndpointName": "e"})
    errors = MetricKey.of("AWS/SageMaker", "Invocation5XXErrors", {"EndpointName": "e"})
    for n in range(20):
        store.recorder(invocations, "Count").record(1.0, T0 + 4 * 60 + n)
        store.recorder(errors, "Count").record(1.0 if n < 3 else 0.0, T0 + 4 * 60 + n)
    metrics = (
        MetricDataQuery("inv", MetricStat(invocations, 60, "Sum"), return_data=False),
        MetricDataQuery("err", MetricStat(errors, 60, "Sum"), return_data=False),
        MetricDataQuery("rate", expression="100 * err / inv", label="Error rate"),
    )
    alarm = AlarmDefinition(
        "error-rate",
        ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        threshold=10.0,
        metrics=metrics,
    )
    alarm.validate()
    result = evaluate(alarm, store, NOW)
    assert result.state is ALARM
    assert result.reason == (
        "Threshold Crossed: 1 datapoint [15.0 (21/11/26 10:04:00)] was greater than the "
        "threshold (10.0)."
    )
    assert "statistic" not in json.loads(result.reason_data or "")


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"statistic": None}, "Exactly one of Statistic and ExtendedStatistic"),
        ({"extended_statistic": "p99"}, "Exactly one of Statistic and ExtendedStatistic"),
        ({"statistic": "p99"}, "parameter Statistic is invalid"),
        ({"period": None}, "Period must be specified"),
        ({"period": 45}, "Period must be"),
        ({"namespace": None}, "MetricName and Namespace"),
        ({"datapoints_to_alarm": 4}, "DatapointsToAlarm (4) must be between 1 and"),
        ({"evaluation_periods": 1441}, "must not exceed 86400 seconds"),
        ({"threshold": None}, "Threshold"),
        ({"evaluate_low_sample_count_percentile": "sometimes"}, "evaluate or ignore"),
        (
            {"metrics": (MetricDataQuery("e1", expression="1"),)},
            "Metrics cannot be combined with MetricName",
        ),
    ],
)
def test_invalid_definitions(changes: dict[str, object], text: str) -> None:
    fields: dict[str, object] = {
        "name": "a",
        "comparison_operator": ComparisonOperator.GREATER_THAN_THRESHOLD,
        "evaluation_periods": 3,
        "threshold": 1.0,
        "namespace": "App",
        "metric_name": "Errors",
        "statistic": "Sum",
        "period": 60,
    }
    fields.update(changes)
    with pytest.raises(Exception) as caught:
        AlarmDefinition(**fields).validate()  # type: ignore[arg-type]
    assert text in str(caught.value)


def test_math_alarms_need_exactly_one_returned_query() -> None:
    stat = MetricStat(KEY, 60, "Sum")
    alarm = AlarmDefinition(
        "a",
        ComparisonOperator.GREATER_THAN_THRESHOLD,
        1,
        1.0,
        metrics=(MetricDataQuery("m1", stat), MetricDataQuery("e1", expression="m1 * 2")),
    )
    with pytest.raises(MetricsValidationError, match="Exactly one element"):
        alarm.validate()


def test_from_request_and_to_api_round_trip() -> None:
    request = {
        "AlarmName": "latency",
        "AlarmDescription": "p99 latency",
        "ActionsEnabled": False,
        "MetricName": "ModelLatency",
        "Namespace": "AWS/SageMaker",
        "ExtendedStatistic": "p99",
        "Dimensions": [{"Name": "EndpointName", "Value": "e"}],
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 250000.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    alarm = AlarmDefinition.from_request(request)
    alarm.validate()
    assert alarm.treat_missing_data is TreatMissingData.NOT_BREACHING
    api = alarm.to_api()
    assert {k: api[k] for k in request} == request
    assert api["OKActions"] == [] and api["AlarmActions"] == []
    with pytest.raises(MetricsValidationError, match="TreatMissingData"):
        AlarmDefinition.from_request({**request, "TreatMissingData": "sometimes"})
