"""CreateEndpointConfig, DescribeEndpointConfig, DeleteEndpointConfig, ListEndpointConfigs.

An endpoint config is immutable once created. Its variants either all name a
model (a model-based endpoint) or none does (capacity for inference
components, which AWS requires an ExecutionRoleArn for).
"""

from __future__ import annotations

from typing import Any

from moorage.async_inference.config import check_async_config
from moorage.capture import CaptureConfig, CaptureConfigError
from moorage.control.context import ControlContext
from moorage.control.location_checks import check_destination
from moorage.control.paging import page_records
from moorage.control.tags import check_tag_count, tag_pairs
from moorage.domain import model as model_domain
from moorage.domain.endpoint_config import KIND, EndpointConfig, endpoint_config_from_record
from moorage.errors import ValidationError
from moorage.file_roots import FileRoots
from moorage.store.base import AlreadyExists, Record

SORT_COLUMNS = {"Name": "key", "CreationTime": "created"}

_ECHOED = (
    "ProductionVariants",
    "DataCaptureConfig",
    "KmsKeyId",
    "AsyncInferenceConfig",
    "ExplainerConfig",
    "ShadowProductionVariants",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
    "MetricsConfig",
)


def describe_wire(config: EndpointConfig) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "EndpointConfigName": config.name,
        "EndpointConfigArn": config.arn,
        "CreationTime": config.created,
    }
    for key in _ECHOED:
        wire[key] = config.spec.get(key)
    return wire


def _check_capture(capture: dict[str, Any] | None, roots: FileRoots) -> None:
    """Refuse a DataCaptureConfig that passed the shape but cannot be written to."""
    if capture is None:
        return
    try:
        CaptureConfig.from_data_capture_config(capture)
    except CaptureConfigError as exc:
        raise ValidationError(f"DataCaptureConfig is not valid: {exc}.") from None
    check_destination(roots, "DataCaptureConfig.DestinationS3Uri", capture.get("DestinationS3Uri"))


def _check_async_output(config: dict[str, Any] | None, roots: FileRoots) -> None:
    """Local async output and failure paths must lie inside the file roots too."""
    output = (config or {}).get("OutputConfig") or {}
    for field in ("S3OutputPath", "S3FailurePath"):
        member = f"AsyncInferenceConfig.OutputConfig.{field}"
        check_destination(roots, member, output.get(field))


class EndpointConfigsService:
    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx

    def get(self, name: str) -> EndpointConfig:
        record = self.ctx.store.get(KIND, name)
        if record is None:
            raise ValidationError(
                f'Could not find endpoint configuration "{self.ctx.arn(KIND, name)}".'
            )
        return endpoint_config_from_record(record)

    def _check_variants(self, params: dict[str, Any]) -> None:
        variants: list[dict[str, Any]] = params["ProductionVariants"]
        shadows: list[dict[str, Any]] = params.get("ShadowProductionVariants", [])
        names = [v["VariantName"] for v in (*variants, *shadows)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationError(
                f"Variant names must be unique across ProductionVariants and "
                f"ShadowProductionVariants; duplicated: {', '.join(duplicates)}."
            )
        with_model = [v for v in variants if v.get("ModelName")]
        if with_model and len(with_model) != len(variants):
            raise ValidationError(
                "Either every production variant names a ModelName or none does "
                "(variants without a model host inference components)."
            )
        if not with_model and not params.get("ExecutionRoleArn"):
            raise ValidationError(
                "ExecutionRoleArn is required when production variants do not specify "
                "a ModelName (endpoints for inference components)."
            )
        if not with_model and shadows:
            raise ValidationError(
                "ShadowProductionVariants are not supported on endpoints for inference components."
            )
        if shadows and (len(variants) != 1 or len(shadows) != 1):
            raise ValidationError(
                "An endpoint configuration with ShadowProductionVariants must have exactly one "
                "production variant and one shadow variant."
            )
        for shadow in shadows:
            if "ServerlessConfig" in shadow or "ServerlessConfig" in variants[0]:
                raise ValidationError(
                    f"Variant {shadow['VariantName']}: shadow variants are not supported with "
                    "ServerlessConfig."
                )
        for variant in (*variants, *shadows):
            self._check_variant(variant, model_based=bool(with_model))

    def _check_variant(self, variant: dict[str, Any], *, model_based: bool) -> None:
        name = variant["VariantName"]
        serverless = "ServerlessConfig" in variant
        has_instances = "InstanceType" in variant or "InitialInstanceCount" in variant
        if serverless and has_instances:
            raise ValidationError(
                f"Variant {name}: specify either ServerlessConfig or InstanceType and "
                "InitialInstanceCount, not both."
            )
        if not serverless and not ("InstanceType" in variant and "InitialInstanceCount" in variant):
            raise ValidationError(
                f"Variant {name}: InstanceType and InitialInstanceCount are required "
                "unless ServerlessConfig is specified."
            )
        if not model_based and serverless:
            raise ValidationError(
                f"Variant {name}: ServerlessConfig is not supported for inference components."
            )
        model_name = variant.get("ModelName")
        if model_name and self.ctx.store.get(model_domain.KIND, model_name) is None:
            raise ValidationError(
                f'Could not find model "{self.ctx.arn(model_domain.KIND, model_name)}".'
            )
        scaling = variant.get("ManagedInstanceScaling")
        if scaling and scaling.get("Status") == "ENABLED":
            low = scaling.get("MinInstanceCount")
            high = scaling.get("MaxInstanceCount")
            if low is not None and high is not None and low > high:
                raise ValidationError(
                    f"Variant {name}: ManagedInstanceScaling MinInstanceCount ({low}) must not "
                    f"exceed MaxInstanceCount ({high})."
                )

    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointConfigName"]
        arn = self.ctx.arn(KIND, name)
        if self.ctx.store.get(KIND, name) is not None:
            raise ValidationError(f'Cannot create already existing endpoint configuration "{arn}".')
        self._check_variants(params)
        _check_capture(params.get("DataCaptureConfig"), self.ctx.file_roots)
        check_async_config(params)
        _check_async_output(params.get("AsyncInferenceConfig"), self.ctx.file_roots)
        tags = tag_pairs(params.get("Tags"))
        check_tag_count(tags)
        spec = {k: v for k, v in params.items() if k != "Tags"}
        now = self.ctx.now()
        try:
            with self.ctx.store.transaction():
                self.ctx.store.insert(Record(KIND, name, arn, now, now, {"spec": spec}))
                if tags:
                    self.ctx.store.set_tags(arn, tags)
        except AlreadyExists:
            raise ValidationError(
                f'Cannot create already existing endpoint configuration "{arn}".'
            ) from None
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        return describe_wire(self.get(params["EndpointConfigName"]))

    def delete_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        config = self.get(params["EndpointConfigName"])
        with self.ctx.store.transaction():
            self.ctx.store.delete(KIND, config.name)
            self.ctx.store.drop_tags(config.arn)
        return {}

    def list_endpoint_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        result = page_records(self.ctx.store, KIND, params, SORT_COLUMNS, doc_fields=())
        return {
            "EndpointConfigs": [
                {
                    "EndpointConfigName": r.name,
                    "EndpointConfigArn": r.arn,
                    "CreationTime": r.created,
                }
                for r in result.items
            ],
            "NextToken": result.next_token,
        }
