"""Inference experiments through boto3 in tests: request bodies and waits."""

from __future__ import annotations

import time
from typing import Any

from support.endpoints import ROLE


def model_variant(model: str, variant_name: str, count: int = 1) -> dict[str, Any]:
    return {
        "ModelName": model,
        "VariantName": variant_name,
        "InfrastructureConfig": {
            "InfrastructureType": "RealTimeInference",
            "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": count},
        },
    }


def shadow_mode(source: str, shadow: str, percentage: int) -> dict[str, Any]:
    return {
        "SourceModelVariantName": source,
        "ShadowModelVariants": [
            {"ShadowModelVariantName": shadow, "SamplingPercentage": percentage}
        ],
    }


def create_experiment(
    sm: Any,
    name: str,
    endpoint: str,
    production: tuple[str, str],
    shadow: tuple[str, str],
    percentage: int,
    *,
    count: int = 1,
    **extra: Any,
) -> str:
    """``production`` and ``shadow`` are (model, variant name); returns the ARN."""
    reply = sm.create_inference_experiment(
        Name=name,
        Type="ShadowMode",
        RoleArn=ROLE,
        EndpointName=endpoint,
        ModelVariants=[
            model_variant(production[0], production[1], count),
            model_variant(shadow[0], shadow[1]),
        ],
        ShadowModeConfig=shadow_mode(production[1], shadow[1], percentage),
        **extra,
    )
    return str(reply["InferenceExperimentArn"])


def wait_experiment(
    sm: Any, name: str, status: str, timeout: float = 90.0, seen: list[str] | None = None
) -> dict[str, Any]:
    """Poll until the experiment is ``status``; records each status seen in ``seen``."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sm.describe_inference_experiment(Name=name)
        if seen is not None and (not seen or seen[-1] != described["Status"]):
            seen.append(described["Status"])
        if described["Status"] == status:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{name} is {described['Status']} ({described.get('StatusReason')}), not {status}"
            )
        time.sleep(0.1)
