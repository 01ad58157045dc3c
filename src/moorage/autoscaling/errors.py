"""Application Auto Scaling's error codes, as :class:`~moorage.errors.ServiceError` types.

The protocol layer renders them as ``{"__type": CODE, "message": ...}``;
botocore raises the modeled exception of the same name
(``client.exceptions.ObjectNotFoundException``). A request that breaks the
model's shapes, or names something moorage cannot scale, is the generic
``ValidationException`` (:class:`moorage.errors.ValidationError`).
"""

from __future__ import annotations

from moorage.errors import ServiceError


class ObjectNotFound(ServiceError):
    """A scalable target, scaling policy or scheduled action that does not exist."""

    code = "ObjectNotFoundException"


class LimitExceeded(ServiceError):
    """More scalable targets, policies or scheduled actions than AWS's quotas allow."""

    code = "LimitExceededException"


class InvalidNextToken(ServiceError):
    code = "InvalidNextTokenException"


class ResourceNotFound(ServiceError):
    """A tagging request names an ARN that is no registered scalable target."""

    code = "ResourceNotFoundException"


class TooManyTags(ServiceError):
    code = "TooManyTagsException"
