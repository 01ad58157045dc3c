"""Errors of the monitoring package, with CloudWatch's query error codes.

CloudWatch is query-compatible: whatever protocol a client speaks, the error
*code* it sees is the historical query code (``InvalidParameterValue``,
``ValidationError``...). Every error here is a
:class:`moorage.errors.ServiceError` carrying that code, so the protocol layer
(:mod:`moorage.api.query_compat`) renders it without a translation table. The
messages are written to be shown to users as they are.
"""

from __future__ import annotations

from moorage.errors import ServiceError


class MonitoringError(ServiceError):
    """Base class of every error raised by :mod:`moorage.monitoring`."""

    code = "ValidationError"


class MetricsValidationError(MonitoringError):
    """A request CloudWatch rejects as a whole, e.g. a bad metric math expression."""

    code = "ValidationError"


class InvalidParameterValue(MonitoringError):
    """A parameter has a value CloudWatch does not accept."""

    code = "InvalidParameterValue"


class InvalidParameterCombination(MonitoringError):
    """Parameters that are valid alone but not together."""

    code = "InvalidParameterCombination"


class MissingParameter(MonitoringError):
    """A parameter required by the combination of the others is absent."""

    code = "MissingParameter"


class InvalidNextToken(MonitoringError):
    """A ``NextToken`` that this request did not produce."""

    code = "InvalidNextToken"


class InvalidFormat(MonitoringError):
    """``SetAlarmState``'s ``StateReasonData`` is not a JSON document."""

    code = "InvalidFormat"


class AlarmNotFound(MonitoringError):
    """An alarm name that does not exist (``ResourceNotFound``, HTTP 404)."""

    code = "ResourceNotFound"
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Alarm {name} not found")
        self.name = name
