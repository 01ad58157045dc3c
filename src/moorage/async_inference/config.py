"""An endpoint config's ``AsyncInferenceConfig``, parsed, and its limits.

CreateEndpointConfig stores the config as given (botocore's shape checks it);
:func:`check_async_config` adds what the shape cannot say, before anything
is stored: an output path to write answers to, and no variant kind that
asynchronous inference does not support (serverless variants, inference
components, shadow variants: AWS's exclusions). The dispatcher
(:mod:`moorage.async_inference.dispatcher`) reads :class:`AsyncConfig`;
the request handler (:mod:`moorage.async_inference.handler`) fixes each
request's output and failure locations from it when it accepts the request.

Defaults and limits, from AWS's documentation of InvokeEndpointAsync:
a request waits in the queue at most ``RequestTTLSeconds`` (6 hours unless
given) and runs at most ``InvocationTimeoutSeconds`` (15 minutes unless
given); an input may be up to 1 GB. AWS does not publish the value it picks
when ``MaxConcurrentInvocationsPerInstance`` is left out; moorage uses
:data:`DEFAULT_MAX_CONCURRENCY` (docs/async-inference.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moorage.errors import ValidationError

DEFAULT_TTL_S = 21_600
DEFAULT_TIMEOUT_S = 900
DEFAULT_MAX_CONCURRENCY = 4
MAX_INPUT_BYTES = 1024**3
# Inline ``Body`` payloads (botocore's AsyncBodyBlob).
MAX_INLINE_BYTES = 128_000
# A notification carries the inference response only up to this size.
MAX_NOTIFIED_BODY_BYTES = 128 * 1024

SUCCESS_TOPIC_CHOICE = "SUCCESS_NOTIFICATION_TOPIC"
ERROR_TOPIC_CHOICE = "ERROR_NOTIFICATION_TOPIC"


@dataclass(frozen=True)
class Notifications:
    """Where outcomes are published (SNS topic ARNs) and which carry the response."""

    success_topic: str | None = None
    error_topic: str | None = None
    include_in_success: bool = False
    include_in_error: bool = False

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> Notifications:
        config = config or {}
        include = set(config.get("IncludeInferenceResponseIn") or ())
        return cls(
            success_topic=config.get("SuccessTopic") or None,
            error_topic=config.get("ErrorTopic") or None,
            include_in_success=SUCCESS_TOPIC_CHOICE in include,
            include_in_error=ERROR_TOPIC_CHOICE in include,
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "success": self.success_topic,
            "error": self.error_topic,
            "include_success": self.include_in_success,
            "include_error": self.include_in_error,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Notifications:
        return cls(
            success_topic=doc.get("success"),
            error_topic=doc.get("error"),
            include_in_success=bool(doc.get("include_success")),
            include_in_error=bool(doc.get("include_error")),
        )


@dataclass(frozen=True)
class AsyncConfig:
    output_path: str
    failure_path: str | None
    kms_key_id: str | None
    notifications: Notifications
    max_concurrency: int

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> AsyncConfig:
        """An ``AsyncInferenceConfig`` that passed :func:`check_async_config`."""
        output = config.get("OutputConfig") or {}
        client = config.get("ClientConfig") or {}
        return cls(
            output_path=str(output.get("S3OutputPath") or ""),
            failure_path=output.get("S3FailurePath") or None,
            kms_key_id=output.get("KmsKeyId") or None,
            notifications=Notifications.of(output.get("NotificationConfig")),
            max_concurrency=int(
                client.get("MaxConcurrentInvocationsPerInstance") or DEFAULT_MAX_CONCURRENCY
            ),
        )


def async_config_of(spec: Mapping[str, Any]) -> AsyncConfig | None:
    """The parsed ``AsyncInferenceConfig`` of an endpoint config's stored spec, if any."""
    config = spec.get("AsyncInferenceConfig")
    if not config:
        return None
    return AsyncConfig.parse(config)


def check_async_config(params: Mapping[str, Any]) -> None:
    """Refuse a CreateEndpointConfig whose asynchronous inference cannot work."""
    config = params.get("AsyncInferenceConfig")
    if config is None:
        return
    output = config.get("OutputConfig") or {}
    if not output.get("S3OutputPath"):
        raise ValidationError(
            "AsyncInferenceConfig.OutputConfig.S3OutputPath is required: asynchronous "
            "inference writes each response there."
        )
    variants = params.get("ProductionVariants") or []
    if params.get("ShadowProductionVariants"):
        raise ValidationError(
            "ShadowProductionVariants are not supported with AsyncInferenceConfig."
        )
    for variant in variants:
        name = variant.get("VariantName")
        if "ServerlessConfig" in variant:
            raise ValidationError(
                f"Variant {name}: ServerlessConfig is not supported with AsyncInferenceConfig."
            )
        if not variant.get("ModelName"):
            raise ValidationError(
                f"Variant {name}: AsyncInferenceConfig is not supported for endpoints that "
                "host inference components; name a ModelName in every production variant."
            )


def check_async_kept(
    endpoint_name: str, current: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> None:
    """UpdateEndpoint: an asynchronous endpoint stays asynchronous (AWS's refusal).

    Its queue would have no one to run it. ``current`` is the stored spec of
    the endpoint's config (None once that config is deleted: not judged).
    """
    if current is None or not current.get("AsyncInferenceConfig"):
        return
    if not new.get("AsyncInferenceConfig"):
        raise ValidationError(
            f"The AsyncInferenceConfig parameter cannot be removed from this endpoint "
            f"{endpoint_name}. To change the endpoint to real-time inference, create a new "
            "endpoint."
        )


def check_zero_instances(
    desired: Sequence[Mapping[str, Any]], spec: Mapping[str, Any] | None
) -> None:
    """UpdateEndpointWeightsAndCapacities: zero instances only for asynchronous endpoints.

    AWS lets a variant scale in to no instance when the endpoint queues its
    requests (asynchronous inference); a real-time variant needs at least one.
    Endpoints of inference components keep their own rules (their capacity
    follows the components), and a deleted config (``spec`` None) is not judged.
    """
    if spec is None or spec.get("AsyncInferenceConfig"):
        return
    if all(not v.get("ModelName") for v in spec.get("ProductionVariants") or ()):
        return
    for item in desired:
        if item.get("DesiredInstanceCount") == 0:
            raise ValidationError(
                f'Variant "{item.get("VariantName")}": DesiredInstanceCount 0 is supported only '
                "for endpoints configured for asynchronous inference (AsyncInferenceConfig); a "
                "real-time variant needs at least one instance."
            )
