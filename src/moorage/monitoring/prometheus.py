"""The store as Prometheus text exposition, for the server's ``/metrics`` page.

Every stream of the store (a metric in one unit) becomes one Prometheus
series; the family is chosen by unit:

- ``Count`` and ``None``: a counter ``moorage_<name>_total``, the sum of every
  value recorded;
- ``Seconds``, ``Milliseconds``, ``Microseconds``: a summary
  ``moorage_<name>_seconds`` (values converted to seconds) with quantiles 0.5,
  0.9 and 0.99 of the last 60 seconds, and ``_sum``/``_count`` since start;
- any other unit: a gauge ``moorage_<name>_<unit>``, the last value recorded.

``<name>`` is the metric name in snake case (``Invocation4XXErrors`` →
``invocation_4xx_errors``). Dimensions become labels: ``EndpointName`` →
``endpoint``, ``VariantName`` → ``variant``, ``InferenceComponentName`` →
``inference_component``, others in snake case. Metrics outside
``AWS/SageMaker`` carry a ``namespace`` label. Counters and ``_sum``/``_count``
are lifetime totals: they never go down as the store's retention drops old
data.

The page is written for whatever the store holds: label values and ``HELP``
text are escaped (a newline in a metric name cannot end a line), text that
UTF-8 cannot carry (an unpaired surrogate) is replaced by U+FFFD, a label
name that would start with a digit gets a ``dimension_`` prefix, and two
dimensions that map to one label name get ``_2``, ``_3``... suffixes.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

from moorage.monitoring.keys import MetricKey, StandardUnit
from moorage.monitoring.store import MetricStore, SeriesSummary

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
QUANTILES = (0.5, 0.9, 0.99)
SUMMARY_WINDOW_SECONDS = 60
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_UNENCODABLE = re.compile("[\ud800-\udfff]")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|\d+[A-Z]*(?![a-z])|[A-Z]+|\d+")
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_LABELS = {
    "EndpointName": "endpoint",
    "VariantName": "variant",
    "InferenceComponentName": "inference_component",
}
_COUNTERS = frozenset({StandardUnit.COUNT.value, StandardUnit.NONE.value})
# Time units and the factor that turns them into seconds.
_SECONDS = {
    StandardUnit.SECONDS.value: 1.0,
    StandardUnit.MILLISECONDS.value: 1e-3,
    StandardUnit.MICROSECONDS.value: 1e-6,
}


def snake_case(name: str) -> str:
    """``Invocation4XXErrors`` → ``invocation_4xx_errors``."""
    words = _WORDS.findall(name)
    text = "_".join(w.lower() for w in words) if words else name.lower()
    return _INVALID.sub("_", text)


def _unit_suffix(unit: str) -> str:
    if unit == StandardUnit.COUNT_PER_SECOND.value:
        return "per_second"
    return _INVALID.sub("_", unit.lower().replace("/", "_per_"))


def _labels(key: MetricKey, extra: Sequence[tuple[str, str]] = ()) -> str:
    dimensions = key.dimension_list()
    fixed = list(extra)
    if key.namespace != SAGEMAKER_NAMESPACE:
        fixed.insert(0, ("namespace", key.namespace))
    if not dimensions and not fixed:
        return ""
    names = _unique(
        [_LABELS.get(n) or _label_name(n) for n, _ in dimensions], taken={n for n, _ in fixed}
    )
    pairs = [*zip(names, (v for _, v in dimensions), strict=True), *fixed]
    return "{" + ",".join(f'{n}="{_escape(v)}"' for n, v in pairs) + "}"


def _label_name(dimension: str) -> str:
    # A label name must not start with a digit, and a leading "__" is reserved.
    name = snake_case(dimension).lstrip("_")
    if not name or name[0].isdigit():
        name = "dimension_" + name
    return name


def _unique(names: list[str], taken: set[str]) -> list[str]:
    """``names`` with a repeat (or a name in ``taken``) suffixed ``_2``, ``_3``..."""
    used = set(taken)
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate)
        out.append(candidate)
    return out


def _clean(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (unpaired surrogates) replaced by U+FFFD."""
    return _UNENCODABLE.sub("\ufffd", text) if not text.isascii() else text


def _escape(value: str) -> str:
    return _clean(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return _clean(text).replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render(
    store: MetricStore, now: float | None = None, *, window: int = SUMMARY_WINDOW_SECONDS
) -> str:
    """Every stream of ``store`` in Prometheus' text format (version 0.0.4)."""
    current = store.clock.now() if now is None else now
    families: dict[str, tuple[str, str]] = {}
    samples: dict[str, list[str]] = defaultdict(list)
    for summary in sorted(store.summaries(), key=lambda s: (s.key.name, _labels(s.key))):
        family, kind, lines = _series(store, summary, current, window)
        if family not in families:
            help_text = _escape_help(
                f"CloudWatch metric {summary.key.namespace} {summary.key.name} "
                f"({summary.unit}) as a {kind}"
            )
            families[family] = (kind, help_text)
        samples[family].extend(lines)
    out: list[str] = []
    for family in sorted(families):
        kind, help_text = families[family]
        out.append(f"# HELP {family} {help_text}")
        out.append(f"# TYPE {family} {kind}")
        out.extend(samples[family])
    return "\n".join(out) + "\n" if out else ""


def _series(
    store: MetricStore, summary: SeriesSummary, now: float, window: int
) -> tuple[str, str, list[str]]:
    key, unit = summary.key, summary.unit
    base = "moorage_" + snake_case(key.name)
    if unit in _COUNTERS:
        family = base + "_total"
        return family, "counter", [f"{family}{_labels(key)} {_number(summary.total)}"]
    if unit in _SECONDS:
        factor = _SECONDS[unit]
        family = base + "_seconds"
        lines = []
        end = int(now) + 1
        ranked = store.aggregate(key, unit, end - window, end).ranked()
        for q in QUANTILES:
            value = ranked.percentile(q * 100) if ranked is not None else None
            shown = value * factor if value is not None else math.nan
            lines.append(f"{family}{_labels(key, [('quantile', str(q))])} {_number(shown)}")
        lines.append(f"{family}_sum{_labels(key)} {_number(summary.total * factor)}")
        lines.append(f"{family}_count{_labels(key)} {_number(summary.count)}")
        return family, "summary", lines
    family = f"{base}_{_unit_suffix(unit)}"
    return family, "gauge", [f"{family}{_labels(key)} {_number(summary.last_value)}"]
