"""``GetMetricData``: metric queries, metric math, and paging.

Each ``MetricStat`` query reads one statistic per period from the store;
each ``Expression`` query combines other queries' results
(:mod:`moorage.monitoring.expressions` parses them). Alarms on metric math
(:mod:`moorage.monitoring.alarm_eval`) use :func:`evaluate_queries` too.

Semantics where CloudWatch leaves room (see ``docs/metrics-and-alarms.md``):

- ``a + b`` between two time series has a value where both have one;
  between a series and a scalar, wherever the series has one. A division by
  zero leaves that timestamp without a value.
- ``SUM``/``AVG``/``MIN``/``MAX`` of one time series is a scalar (over the
  whole time range); of an array (``METRICS()``, ``[m1, m2]`` or several
  arguments) a time series, over the values present at each timestamp.
- ``FILL(m, v)`` fills every period of the time range with ``v`` (a number,
  ``REPEAT`` for the previous value, ``LINEAR`` to interpolate; leading and
  trailing gaps stay empty for ``REPEAT``/``LINEAR``).
- ``METRICS()`` is every ``MetricStat`` query, in request order;
  ``METRICS("s")`` those whose ``Id`` contains ``s``.
- A scalar result is returned at every period of the time range; an array
  result as one result per member, all with the query's ``Id``.
- Paging: ``MaxDatapoints`` values per page across results, in request
  order; a result cut by the page end has ``StatusCode`` ``PartialData``
  and continues on the next page. The token is bound to the request.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from moorage import json_limits
from moorage.monitoring.errors import InvalidNextToken, MetricsValidationError, MonitoringError
from moorage.monitoring.expressions import (
    ArrayOf,
    BinOp,
    Call,
    Keyword,
    Negate,
    Node,
    Number,
    Ref,
    Text,
    parse,
    references,
)
from moorage.monitoring.keys import MetricKey
from moorage.monitoring.statistics import parse_statistic
from moorage.monitoring.store import MetricStore
from moorage.monitoring.timegrid import align_start, check_period

DEFAULT_MAX_DATAPOINTS = 100_800
MAX_QUERIES = 500
_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")
_DEFAULT_PERIOD = 60


class ScanBy(StrEnum):
    TIMESTAMP_DESCENDING = "TimestampDescending"
    TIMESTAMP_ASCENDING = "TimestampAscending"


class StatusCode(StrEnum):
    COMPLETE = "Complete"
    INTERNAL_ERROR = "InternalError"
    PARTIAL_DATA = "PartialData"
    FORBIDDEN = "Forbidden"


@dataclass(frozen=True)
class MetricStat:
    """A metric, a period and a statistic (``MetricStat``)."""

    metric: MetricKey
    period: int
    stat: str
    unit: str | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> MetricStat:
        metric = item["Metric"]
        return cls(
            MetricKey.of(
                metric.get("Namespace", ""),
                metric.get("MetricName", ""),
                [(d["Name"], d["Value"]) for d in metric.get("Dimensions", ())],
            ),
            int(item["Period"]),
            item["Stat"],
            item.get("Unit"),
        )

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Metric": self.metric.to_api(),
            "Period": self.period,
            "Stat": self.stat,
        }
        if self.unit is not None:
            out["Unit"] = self.unit
        return out


@dataclass(frozen=True)
class MetricDataQuery:
    """One ``MetricDataQuery``: a ``MetricStat`` or an ``Expression``."""

    id: str
    metric_stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> MetricDataQuery:
        stat = item.get("MetricStat")
        return cls(
            id=item["Id"],
            metric_stat=MetricStat.from_api(stat) if stat is not None else None,
            expression=item.get("Expression"),
            label=item.get("Label"),
            return_data=item.get("ReturnData", True),
            period=item.get("Period"),
        )

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Id": self.id}
        if self.metric_stat is not None:
            out["MetricStat"] = self.metric_stat.to_api()
        if self.expression is not None:
            out["Expression"] = self.expression
        if self.label is not None:
            out["Label"] = self.label
        out["ReturnData"] = self.return_data
        if self.period is not None:
            out["Period"] = self.period
        return out


@dataclass(frozen=True)
class MetricDataResult:
    """One ``MetricDataResult``; timestamps in the order asked for."""

    id: str
    label: str
    timestamps: tuple[int, ...]
    values: tuple[float, ...]
    status_code: StatusCode = StatusCode.COMPLETE

    def points(self) -> list[tuple[int, float]]:
        return list(zip(self.timestamps, self.values, strict=True))


@dataclass(frozen=True)
class MetricDataPage:
    results: tuple[MetricDataResult, ...]
    next_token: str | None = None


@dataclass
class _Series:
    label: str
    period: int
    points: dict[int, float] = field(default_factory=dict)


@dataclass
class _Array:
    items: list[_Series]


_Value = float | _Series | _Array


def validate_queries(queries: Sequence[MetricDataQuery]) -> dict[str, Node]:
    """Check a request's queries; the parsed expressions by query id."""
    if not queries:
        raise MetricsValidationError("The parameter MetricDataQueries is required.")
    if len(queries) > MAX_QUERIES:
        raise MetricsValidationError(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise MetricsValidationError(
            "The values for parameter id in MetricDataQueries are not unique."
        )
    parsed: dict[str, Node] = {}
    for n, query in enumerate(queries, start=1):
        where = f"MetricDataQueries.member.{n}"
        if not _ID.fullmatch(query.id):
            raise MetricsValidationError(
                f"The value {query.id} for parameter {where}.Id is invalid: an Id starts with a "
                "lower-case letter and has only letters, digits and underscores."
            )
        if (query.metric_stat is None) == (query.expression is None):
            raise MetricsValidationError(
                f"Exactly one of {where}.MetricStat and {where}.Expression must be specified."
            )
        if query.period is not None:
            _wrap(check_period, query.period, f"{where}.Period")
        if query.metric_stat is not None:
            _check_metric_stat(query.metric_stat, f"{where}.MetricStat")
        else:
            parsed[query.id] = parse(query.expression or "", query.id)
    known = set(ids)
    for qid, node in parsed.items():
        missing = sorted(references(node) - known)
        if missing:
            raise MetricsValidationError(
                f"Error in expression {qid}: Unrecognized identifier {missing[0]}"
            )
    _check_cycles(parsed)
    return parsed


def _check_metric_stat(stat: MetricStat, where: str) -> None:
    if not stat.metric.namespace or not stat.metric.name:
        raise MetricsValidationError(f"{where}.Metric needs a Namespace and a MetricName.")
    _wrap(check_period, stat.period, f"{where}.Period")
    try:
        parse_statistic(stat.stat)
    except MonitoringError:
        raise MetricsValidationError(
            f"The value {stat.stat} for parameter {where}.Stat is invalid."
        ) from None


def _wrap(check: Callable[[int, str], None], value: int, parameter: str) -> None:
    # GetMetricData reports every problem as a ValidationError.
    try:
        check(value, parameter)
    except MonitoringError as exc:
        raise MetricsValidationError(exc.message) from None


def _check_cycles(parsed: Mapping[str, Node]) -> None:
    # A depth-first walk with its own stack: 500 queries may form one long chain.
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in parsed:
        if state.get(root) == 2:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(references(parsed[root]))))]
        while stack:
            qid, pending = stack[-1]
            ref = next(pending, None)
            if ref is None:
                state[qid] = 2
                stack.pop()
                continue
            if ref not in parsed or state.get(ref) == 2:
                continue
            if state.get(ref) == 1:
                raise MetricsValidationError(f"Error in expression {ref}: Circular dependency")
            state[ref] = 1
            stack.append((ref, iter(sorted(references(parsed[ref])))))


def evaluate_queries(
    store: MetricStore,
    queries: Sequence[MetricDataQuery],
    start: float,
    end: float,
    *,
    now: float | None = None,
    returned_only: bool = True,
) -> list[MetricDataResult]:
    """Every result (of ``ReturnData`` queries), timestamps ascending."""
    parsed = validate_queries(queries)
    if end <= start:
        raise MetricsValidationError(
            "The parameter StartTime must be less than the parameter EndTime."
        )
    current = store.clock.now() if now is None else now
    evaluator = _Evaluator(store, queries, parsed, start, end, current)
    results: list[MetricDataResult] = []
    for query in queries:
        if returned_only and not query.return_data:
            continue
        results.extend(evaluator.results(query))
    return results


def get_metric_data(
    store: MetricStore,
    queries: Sequence[MetricDataQuery],
    start: float,
    end: float,
    *,
    scan_by: ScanBy = ScanBy.TIMESTAMP_DESCENDING,
    max_datapoints: int | None = None,
    next_token: str | None = None,
    now: float | None = None,
) -> MetricDataPage:
    """``GetMetricData``: one page of results."""
    budget = DEFAULT_MAX_DATAPOINTS if max_datapoints is None else max_datapoints
    if budget < 1:
        raise MetricsValidationError("The parameter MaxDatapoints must be greater than 0.")
    fingerprint = _fingerprint(queries, start, end, scan_by)
    offset = _decode_token(next_token, fingerprint) if next_token else 0
    results = evaluate_queries(store, queries, start, end, now=now)
    if scan_by is ScanBy.TIMESTAMP_DESCENDING:
        results = [
            MetricDataResult(r.id, r.label, r.timestamps[::-1], r.values[::-1]) for r in results
        ]
    return _page(results, offset, budget, fingerprint)


def _page(
    results: Sequence[MetricDataResult], offset: int, budget: int, fingerprint: str
) -> MetricDataPage:
    out: list[MetricDataResult] = []
    position = 0
    page_end = offset + budget
    for result in results:
        n = len(result.timestamps)
        first, last = max(offset, position), min(page_end, position + n)
        if n == 0:
            if offset == 0:
                out.append(result)
        elif first < last:
            a, b = first - position, last - position
            partial = b < n
            out.append(
                MetricDataResult(
                    result.id,
                    result.label,
                    result.timestamps[a:b],
                    result.values[a:b],
                    StatusCode.PARTIAL_DATA if partial else StatusCode.COMPLETE,
                )
            )
        position += n
    token = _encode_token(page_end, fingerprint) if page_end < position else None
    return MetricDataPage(tuple(out), token)


def _fingerprint(
    queries: Sequence[MetricDataQuery], start: float, end: float, scan_by: ScanBy
) -> str:
    text = json.dumps(
        [[q.to_api() for q in queries], start, end, scan_by.value], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"offset": offset, "request": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, fingerprint: str) -> int:
    try:
        decoded = json_limits.loads(base64.urlsafe_b64decode(token.encode()))
        offset = decoded["offset"]
        same = decoded["request"] == fingerprint
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidNextToken("The service cannot decode the NextToken.") from None
    if not same or not isinstance(offset, int) or offset < 0:
        raise InvalidNextToken("The NextToken belongs to another request.")
    return offset


class _Evaluator:
    """Evaluates the queries of one request, each at most once."""

    def __init__(
        self,
        store: MetricStore,
        queries: Sequence[MetricDataQuery],
        parsed: Mapping[str, Node],
        start: float,
        end: float,
        now: float,
    ) -> None:
        self.store = store
        self.queries = {q.id: q for q in queries}
        self.order = [q.id for q in queries]
        self.parsed = parsed
        self.start = start
        self.end = end
        self.now = now
        self.cache: dict[str, _Value] = {}
        periods = [q.metric_stat.period for q in queries if q.metric_stat is not None]
        self.default_period = min(periods) if periods else _DEFAULT_PERIOD

    def grid(self, period: int) -> range:
        return range(align_start(self.start, period, self.now), math.ceil(self.end), period)

    def results(self, query: MetricDataQuery) -> list[MetricDataResult]:
        value = self.value(query.id)
        if isinstance(value, _Array):
            return [_result(query.id, s.label, s) for s in value.items]
        label = query.label or (
            query.metric_stat.metric.name if query.metric_stat is not None else query.id
        )
        if isinstance(value, _Series):
            return [_result(query.id, label, value)]
        period = query.period or self.default_period
        constant = _Series(label, period, dict.fromkeys(self.grid(period), value))
        return [_result(query.id, label, constant)]

    def value(self, qid: str) -> _Value:
        found = self.cache.get(qid)
        if found is None:
            # The queries it reads first, deepest first, so that a chain of
            # 500 expressions each reading the next never recurses.
            for dependency in self._unevaluated(qid):
                self.cache[dependency] = self._compute(dependency)
            found = self.cache[qid]
        return found

    def _compute(self, qid: str) -> _Value:
        query = self.queries[qid]
        if query.metric_stat is not None:
            return self.metric(query, query.metric_stat)
        return self.eval(self.parsed[qid], qid)

    def _unevaluated(self, qid: str) -> list[str]:
        """``qid`` and the queries it reads, not yet evaluated, each after what it reads."""
        order: list[str] = []
        seen = {qid}
        stack: list[tuple[str, bool]] = [(qid, False)]
        while stack:
            current, expanded = stack.pop()
            if expanded:
                order.append(current)
                continue
            stack.append((current, True))
            node = self.parsed.get(current)
            if node is None:
                continue
            for ref in sorted(references(node)):
                if ref not in seen and ref not in self.cache and ref in self.queries:
                    seen.add(ref)
                    stack.append((ref, False))
        return order

    def metric(self, query: MetricDataQuery, stat: MetricStat) -> _Series:
        aligned = align_start(self.start, stat.period, self.now)
        points = self.store.points(
            stat.metric, parse_statistic(stat.stat), aligned, self.end, stat.period, stat.unit
        )
        label = query.label or stat.metric.name
        return _Series(label, stat.period, {p.timestamp: float(p.value) for p in points})

    def error(self, qid: str, problem: str) -> MetricsValidationError:
        return MetricsValidationError(f"Error in expression {qid}: {problem}")

    def eval(self, node: Node, qid: str) -> _Value:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Ref):
            return self.value(node.id)
        if isinstance(node, Negate):
            return self.binop("*", -1.0, self.eval(node.operand, qid), qid)
        if isinstance(node, BinOp):
            # ``a + b - c ...`` nests on the left: fold the chain in a loop.
            chain: list[BinOp] = []
            base: Node = node
            while isinstance(base, BinOp):
                chain.append(base)
                base = base.left
            result = self.eval(base, qid)
            for link in reversed(chain):
                result = self.binop(link.op, result, self.eval(link.right, qid), qid)
            return result
        if isinstance(node, ArrayOf):
            return _Array([self.series_arg(self.eval(item, qid), qid) for item in node.items])
        if isinstance(node, Call):
            return self.call(node, qid)
        if isinstance(node, Text | Keyword):
            shown = node.value if isinstance(node, Text) else node.name
            raise self.error(qid, f"{shown} is only allowed as a function argument")
        raise self.error(qid, "unsupported expression")  # pragma: no cover

    def series_arg(self, value: _Value, qid: str) -> _Series:
        if not isinstance(value, _Series):
            raise self.error(qid, "an array can only hold time series")
        return value

    def binop(self, op: str, left: _Value, right: _Value, qid: str) -> _Value:
        if isinstance(left, _Array) and isinstance(right, _Array):
            raise self.error(qid, f"operator {op} between two arrays of time series")
        if isinstance(left, _Array):
            return _Array([self.series_arg(self.binop(op, s, right, qid), qid) for s in left.items])
        if isinstance(right, _Array):
            return _Array([self.series_arg(self.binop(op, left, s, qid), qid) for s in right.items])
        if isinstance(left, float) and isinstance(right, float):
            result = _arith(op, left, right)
            if result is None:
                raise self.error(qid, f"{op} of {left} and {right} has no value")
            return result
        if isinstance(left, _Series) and isinstance(right, _Series):
            points = {
                t: v
                for t, a in left.points.items()
                if t in right.points and (v := _arith(op, a, right.points[t])) is not None
            }
            return _Series(left.label, left.period, points)
        if isinstance(left, _Series):
            assert isinstance(right, float)
            points = {
                t: v for t, a in left.points.items() if (v := _arith(op, a, right)) is not None
            }
            return _Series(left.label, left.period, points)
        assert isinstance(left, float) and isinstance(right, _Series)
        points = {t: v for t, b in right.points.items() if (v := _arith(op, left, b)) is not None}
        return _Series(right.label, right.period, points)

    def call(self, node: Call, qid: str) -> _Value:
        name = node.function
        if name == "METRICS":
            return self.metrics_function(node, qid)
        if name == "FILL":
            return self.fill(node, qid)
        args = [self.eval(a, qid) for a in node.args]
        if not args:
            raise self.error(qid, f"{name} needs an argument")
        if name == "ABS":
            if len(args) != 1:
                raise self.error(qid, "ABS takes one argument")
            return self.binop("abs", args[0], 0.0, qid)
        return self.reduce(name, args, qid)

    def metrics_function(self, node: Call, qid: str) -> _Array:
        if len(node.args) > 1 or (node.args and not isinstance(node.args[0], Text)):
            raise self.error(qid, "METRICS takes at most one string argument")
        needle = node.args[0].value if node.args and isinstance(node.args[0], Text) else ""
        chosen = [i for i in self.order if self.queries[i].metric_stat is not None and needle in i]
        return _Array([self.series_arg(self.value(i), qid) for i in chosen])

    def reduce(self, name: str, args: list[_Value], qid: str) -> _Value:
        if len(args) == 1 and isinstance(args[0], float):
            return args[0]
        if len(args) == 1 and isinstance(args[0], _Series):
            values = list(args[0].points.values())
            if not values:
                return _Series(args[0].label, args[0].period)
            return _aggregate(name, values)
        members: list[_Series] = []
        for arg in args:
            if isinstance(arg, _Array):
                members.extend(arg.items)
            elif isinstance(arg, _Series):
                members.append(arg)
            else:
                raise self.error(qid, f"{name} of several arguments needs time series")
        if not members:
            return _Series(qid, self.default_period)
        stamps = sorted(set().union(*(m.points for m in members)))
        points = {
            t: _aggregate(name, [m.points[t] for m in members if t in m.points]) for t in stamps
        }
        return _Series(qid, members[0].period, points)

    def fill(self, node: Call, qid: str) -> _Value:
        if len(node.args) != 2:
            raise self.error(qid, "FILL takes two arguments: a time series and a value")
        target = self.eval(node.args[0], qid)
        how: float | str
        if isinstance(node.args[1], Keyword):
            how = node.args[1].name
        else:
            filler = self.eval(node.args[1], qid)
            if not isinstance(filler, float):
                raise self.error(qid, "FILL's value must be a number, REPEAT or LINEAR")
            how = filler
        if isinstance(target, _Array):
            return _Array([self.filled(s, how) for s in target.items])
        if not isinstance(target, _Series):
            raise self.error(qid, "FILL's first argument must be a time series")
        return self.filled(target, how)

    def filled(self, series: _Series, how: float | str) -> _Series:
        points = dict(series.points)
        known = sorted(series.points)
        for t in self.grid(series.period):
            if t in points:
                continue
            if isinstance(how, float):
                points[t] = how
                continue
            at = bisect.bisect_left(known, t)
            if at == 0 or at == len(known):
                continue  # no value before or after: REPEAT/LINEAR leave it empty
            before, after = known[at - 1], known[at]
            a, b = series.points[before], series.points[after]
            points[t] = a if how == "REPEAT" else a + (b - a) * (t - before) / (after - before)
        return _Series(series.label, series.period, dict(sorted(points.items())))


def _aggregate(name: str, values: Iterable[float]) -> float:
    items = list(values)
    if name == "SUM":
        return math.fsum(items)
    if name == "AVG":
        return math.fsum(items) / len(items)
    if name == "MIN":
        return float(min(items))
    return float(max(items))


def _arith(op: str, a: float, b: float) -> float | None:
    try:
        if op == "+":
            result: Any = a + b
        elif op == "-":
            result = a - b
        elif op == "*":
            result = a * b
        elif op == "/":
            result = a / b
        elif op == "^":
            result = a**b
        else:  # "abs": the unary function, routed through binop
            result = abs(a)
        value = float(result)
    except (ZeroDivisionError, OverflowError, TypeError):
        # TypeError: a negative base to a fractional power is complex.
        return None
    return value if math.isfinite(value) else None


def _result(qid: str, label: str, series: _Series) -> MetricDataResult:
    stamps = tuple(sorted(series.points))
    return MetricDataResult(qid, label, stamps, tuple(series.points[t] for t in stamps))
