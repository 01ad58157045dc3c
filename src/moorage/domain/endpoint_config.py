"""Endpoint configurations: production variants, shadow variants, capture."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from moorage.store.base import Record

KIND = "endpoint-config"

# When a variant does not set them: SageMaker's container guide gives a new
# instance 8 minutes to start answering /ping with 200; downloads get the
# largest value the API allows.
DEFAULT_STARTUP_TIMEOUT_S = 480
DEFAULT_DOWNLOAD_TIMEOUT_S = 3600


class Routing(StrEnum):
    LEAST_OUTSTANDING_REQUESTS = "LEAST_OUTSTANDING_REQUESTS"
    RANDOM = "RANDOM"


@dataclass(frozen=True)
class ManagedScaling:
    enabled: bool
    min_instances: int | None
    max_instances: int | None
    scale_in_policy: str | None = None


@dataclass(frozen=True)
class VariantSpec:
    name: str
    model_name: str | None
    instance_type: str | None
    initial_instance_count: int
    initial_weight: float
    routing: Routing
    startup_timeout_s: int
    download_timeout_s: int
    managed_scaling: ManagedScaling | None
    serverless: bool
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    arn: str
    created: float
    variants: tuple[VariantSpec, ...]
    shadow_variants: tuple[VariantSpec, ...]
    # The DataCaptureConfig as given (moorage.capture.CaptureConfig parses it).
    capture: Mapping[str, Any] | None
    execution_role_arn: str | None
    spec: Mapping[str, Any]

    @property
    def component_based(self) -> bool:
        """True when the variants are capacity for inference components."""
        return all(v.model_name is None for v in self.variants)

    def variant(self, name: str) -> VariantSpec | None:
        for variant in (*self.variants, *self.shadow_variants):
            if variant.name == name:
                return variant
        return None


def variant_from_spec(spec: Mapping[str, Any]) -> VariantSpec:
    scaling = spec.get("ManagedInstanceScaling")
    managed = None
    if scaling:
        managed = ManagedScaling(
            enabled=scaling.get("Status") == "ENABLED",
            min_instances=scaling.get("MinInstanceCount"),
            max_instances=scaling.get("MaxInstanceCount"),
            scale_in_policy=scaling.get("ScaleInPolicy"),
        )
    serverless = "ServerlessConfig" in spec
    count = spec.get("InitialInstanceCount", 1 if serverless else 0)
    return VariantSpec(
        name=str(spec["VariantName"]),
        model_name=spec.get("ModelName"),
        instance_type=spec.get("InstanceType"),
        initial_instance_count=int(count),
        initial_weight=float(spec.get("InitialVariantWeight", 1.0)),
        routing=Routing(
            spec.get("RoutingConfig", {}).get("RoutingStrategy", Routing.LEAST_OUTSTANDING_REQUESTS)
        ),
        startup_timeout_s=int(
            spec.get("ContainerStartupHealthCheckTimeoutInSeconds", DEFAULT_STARTUP_TIMEOUT_S)
        ),
        download_timeout_s=int(
            spec.get("ModelDataDownloadTimeoutInSeconds", DEFAULT_DOWNLOAD_TIMEOUT_S)
        ),
        managed_scaling=managed,
        serverless=serverless,
        spec=spec,
    )


def endpoint_config_from_record(record: Record) -> EndpointConfig:
    spec = record.doc["spec"]
    return EndpointConfig(
        name=record.name,
        arn=record.arn,
        created=record.created,
        variants=tuple(variant_from_spec(v) for v in spec.get("ProductionVariants", [])),
        shadow_variants=tuple(
            variant_from_spec(v) for v in spec.get("ShadowProductionVariants", [])
        ),
        capture=spec.get("DataCaptureConfig"),
        execution_role_arn=spec.get("ExecutionRoleArn"),
        spec=spec,
    )
