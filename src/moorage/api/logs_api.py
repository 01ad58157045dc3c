"""CloudWatch Logs on moorage's port: the operation table and its JSON 1.1 service.

Requests are ``POST /`` with ``X-Amz-Target: Logs_20140328.<Op>``, validated
by botocore's ``logs`` model like every other service
(:class:`~moorage.api.json_protocol.JsonService`). The table below is
explicit; any other operation of the model answers ``NotImplemented`` (HTTP
501) naming it. CloudWatch Logs reports a request that breaks its shapes as
``InvalidParameterException`` (with the usual "N validation errors
detected" message), not ``ValidationException``: :class:`LogsJsonService`
renames it. The handlers are :class:`moorage.logs.service.LogsService`.
"""

from __future__ import annotations

from moorage.api.app import Routes
from moorage.api.json_protocol import Handler, JsonService, Reply
from moorage.api.service_models import LOGS
from moorage.errors import ServiceError, ValidationError
from moorage.logs.errors import InvalidParameter
from moorage.logs.service import LogsService


def logs_handlers(service: LogsService) -> dict[str, Handler]:
    return {
        "DescribeLogGroups": service.describe_log_groups,
        "DescribeLogStreams": service.describe_log_streams,
        "GetLogEvents": service.get_log_events,
        "FilterLogEvents": service.filter_log_events,
    }


class LogsJsonService(JsonService):
    """The Logs service, whose shape violations are ``InvalidParameterException``."""

    def error_reply(self, error: ServiceError) -> Reply:
        if isinstance(error, ValidationError):
            error = InvalidParameter(error.message)
        return super().error_reply(error)


def logs_service(service: LogsService) -> LogsJsonService:
    return LogsJsonService(
        LOGS,
        logs_handlers(service),
        not_implemented_hint=(
            " moorage serves its model servers' logs: DescribeLogGroups, DescribeLogStreams, "
            "GetLogEvents and FilterLogEvents (docs/logs.md)."
        ),
    )


def install_logs(routes: Routes, service: LogsService) -> JsonService:
    """Register the Logs service on the port (before the app is built)."""
    json_service = logs_service(service)
    routes.add_json_service(json_service)
    return json_service
