"""The Prometheus page renders whatever the store holds, escaped, and never raises."""

from __future__ import annotations

import datetime as dt

from moorage.clock import FakeClock
from moorage.monitoring import MetricKey, MetricStore, render_prometheus

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC).timestamp()


def test_unencodable_text_and_odd_names_render() -> None:
    clock = FakeClock(T0 + 10)
    store = MetricStore(clock)
    dims = {"d\ud800": "v\udfff", "2xx": "a", "__x": "b", "Quantile": "q"}
    store.recorder(MetricKey.of("N\ud800", "bad\nname", dims), "Count").record(1.0, T0)
    store.recorder(MetricKey.of("N", "Lat\\", dims), "Seconds").record(0.5, T0)
    page = render_prometheus(store)
    page.encode("utf-8")  # no unpaired surrogate is left
    lines = page.splitlines()
    assert (
        "# HELP moorage_bad_name_total CloudWatch metric N\ufffd bad\\nname (Count) as a counter"
        in lines
    )
    [counter] = [line for line in lines if line.startswith("moorage_bad_name_total{")]
    assert 'd="v\ufffd"' in counter and 'dimension_2_xx="a"' in counter and 'x="b"' in counter
    [p50] = [line for line in lines if 'quantile="0.5"' in line]
    # A dimension called Quantile does not take the summary's own label.
    assert 'quantile_2="q"' in p50 and p50.count('quantile="') == 1
