"""botocore's service models, loaded once, the source of truth for shapes.

moorage validates and serializes by the very models boto3 uses, read from the
installed botocore at run time (never copied into the project). The loaders
are cached: the first request for a service pays the JSON parse once.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session

SAGEMAKER = "sagemaker"
SAGEMAKER_RUNTIME = "sagemaker-runtime"
CLOUDWATCH = "cloudwatch"
LOGS = "logs"


@functools.cache
def _session() -> Any:
    return botocore.session.get_session()


@functools.cache
def service_model(name: str) -> Any:
    """The botocore ``ServiceModel`` for ``name`` (e.g. ``"sagemaker"``)."""
    return _session().get_service_model(name)


@functools.cache
def operation_names(name: str) -> frozenset[str]:
    return frozenset(service_model(name).operation_names)


def operation_model(service: str, operation: str) -> Any:
    return service_model(service).operation_model(operation)


def enum_values(service: str, shape_name: str) -> tuple[str, ...]:
    return tuple(service_model(service).shape_for(shape_name).enum)
