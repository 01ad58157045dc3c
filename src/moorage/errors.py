"""Errors that reach the caller as AWS-style error responses.

Every layer raises :class:`ServiceError` subclasses; the protocol layer turns
them into the wire form of its protocol (JSON ``__type``/``message`` for the
SageMaker JSON 1.1 protocol, the runtime's rest-json errors, CloudWatch's
CBOR/JSON/query errors). Nothing else may escape a handler: an unexpected
exception becomes an ``InternalFailure`` with no stack trace on the wire.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error with an AWS error code, a message and an HTTP status."""

    code: str = "InternalFailure"
    status: int = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ValidationError(ServiceError):
    """SageMaker's ``ValidationException``."""

    code = "ValidationException"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"


class ResourceInUse(ServiceError):
    code = "ResourceInUse"


class ResourceLimitExceeded(ServiceError):
    code = "ResourceLimitExceeded"


class ConflictError(ServiceError):
    code = "ConflictException"


class SerializationError(ServiceError):
    """The body could not be decoded at all (not JSON, not an object)."""

    code = "SerializationException"


class UnknownOperation(ServiceError):
    code = "UnknownOperationException"


class NotImplementedOperation(ServiceError):
    """An operation that botocore's model has but moorage does not serve."""

    code = "NotImplemented"
    status = 501


class InternalFailure(ServiceError):
    code = "InternalFailure"
    status = 500


class ServiceUnavailable(ServiceError):
    """The server cannot do what was asked now (AWS's generic 503 ``ServiceUnavailable``)."""

    code = "ServiceUnavailable"
    status = 503
