"""The Logs API's errors, with CloudWatch Logs' codes and messages."""

from __future__ import annotations

from moorage.errors import ServiceError


class InvalidParameter(ServiceError):
    """CloudWatch Logs' ``InvalidParameterException``; it also reports shape violations."""

    code = "InvalidParameterException"


class LogsResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"


def group_not_found() -> LogsResourceNotFound:
    return LogsResourceNotFound("The specified log group does not exist.")


def stream_not_found() -> LogsResourceNotFound:
    return LogsResourceNotFound("The specified log stream does not exist.")
