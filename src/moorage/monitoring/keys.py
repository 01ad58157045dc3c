"""What identifies a metric: namespace, name, dimensions; and CloudWatch's units.

A :class:`MetricKey` names one time series of :class:`~moorage.monitoring.store.MetricStore`
(CloudWatch's *metric*: the same name with other dimensions is another
metric). Units are not part of the key: CloudWatch keeps data of different
units apart inside one metric, and so does the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class StandardUnit(StrEnum):
    """botocore's ``StandardUnit`` enum."""

    SECONDS = "Seconds"
    MICROSECONDS = "Microseconds"
    MILLISECONDS = "Milliseconds"
    BYTES = "Bytes"
    KILOBYTES = "Kilobytes"
    MEGABYTES = "Megabytes"
    GIGABYTES = "Gigabytes"
    TERABYTES = "Terabytes"
    BITS = "Bits"
    KILOBITS = "Kilobits"
    MEGABITS = "Megabits"
    GIGABITS = "Gigabits"
    TERABITS = "Terabits"
    PERCENT = "Percent"
    COUNT = "Count"
    BYTES_PER_SECOND = "Bytes/Second"
    KILOBYTES_PER_SECOND = "Kilobytes/Second"
    MEGABYTES_PER_SECOND = "Megabytes/Second"
    GIGABYTES_PER_SECOND = "Gigabytes/Second"
    TERABYTES_PER_SECOND = "Terabytes/Second"
    BITS_PER_SECOND = "Bits/Second"
    KILOBITS_PER_SECOND = "Kilobits/Second"
    MEGABITS_PER_SECOND = "Megabits/Second"
    GIGABITS_PER_SECOND = "Gigabits/Second"
    TERABITS_PER_SECOND = "Terabits/Second"
    COUNT_PER_SECOND = "Count/Second"
    NONE = "None"


# PutMetricData without a Unit stores the data as "None".
DEFAULT_UNIT = StandardUnit.NONE.value

Dimension = tuple[str, str]


@dataclass(frozen=True)
class MetricKey:
    """One metric: ``(Namespace, MetricName, {dimension name: value})``.

    Dimensions are a set of ``(name, value)`` pairs, so their order in a
    request does not matter, as in CloudWatch.
    """

    namespace: str
    name: str
    dimensions: frozenset[Dimension] = frozenset()

    @classmethod
    def of(
        cls,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | Iterable[Dimension] = (),
    ) -> MetricKey:
        pairs = dimensions.items() if isinstance(dimensions, Mapping) else dimensions
        return cls(namespace, name, frozenset(pairs))

    def dimension_list(self) -> list[Dimension]:
        """The dimensions sorted by name (how responses list them)."""
        return sorted(self.dimensions)

    def dimension_dict(self) -> dict[str, str]:
        return dict(self.dimension_list())

    def to_api(self) -> dict[str, object]:
        """CloudWatch's ``Metric`` structure."""
        return {
            "Namespace": self.namespace,
            "MetricName": self.name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimension_list()],
        }


@dataclass(frozen=True)
class DimensionFilter:
    """``ListMetrics``' ``DimensionFilter``: a name, and optionally a value."""

    name: str
    value: str | None = None

    def matches(self, key: MetricKey) -> bool:
        return any(
            n == self.name and (self.value is None or v == self.value) for n, v in key.dimensions
        )
