"""CreateEndpoint, DescribeEndpoint, DeleteEndpoint, ListEndpoints.

Create and delete only record intent (status ``Creating`` / ``Deleting``)
and return; the reconciler starts or stops the copies and moves the status
on. Describe reads what the reconciler observed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.control.context import ControlContext
from moorage.control.paging import page_records
from moorage.control.pending import pending_config_name, pending_summary
from moorage.control.serverless_wire import add_serverless, capacity_change
from moorage.control.tags import check_tag_count, tag_pairs
from moorage.domain import endpoint_config as config_domain
from moorage.domain import inference_component as component_domain
from moorage.domain import model as model_domain
from moorage.domain.endpoint import (
    KIND,
    Endpoint,
    EndpointStatus,
    Group,
    ObservedVariant,
    VariantState,
    endpoint_from_record,
)
from moorage.domain.endpoint_config import EndpointConfig
from moorage.errors import ValidationError
from moorage.store.base import AlreadyExists, Equals

SORT_COLUMNS = {"Name": "key", "CreationTime": "created", "Status": "status"}

# DeleteEndpoint is refused while a change is being carried out. (SystemUpdating,
# the recovery after a restart, may be cut short by a delete: an endpoint whose
# model data vanished would otherwise be stuck.)
_IN_PROGRESS = frozenset(
    {
        EndpointStatus.UPDATING,
        EndpointStatus.ROLLING_BACK,
        EndpointStatus.DELETING,
    }
)


def initial_state(
    name: str, arn: str, now: float, config: EndpointConfig, deployment_config: Any
) -> Endpoint:
    groups = []
    variants = []
    shadows = {v.name for v in config.shadow_variants}
    for index, variant in enumerate((*config.variants, *config.shadow_variants), start=1):
        count = variant.initial_instance_count
        groups.append(
            Group(
                id=f"g{index}",
                config_name=config.name,
                variant=variant.name,
                instance_type=variant.instance_type or "serverless",
                target=count,
                active=count,
                share=1.0,
            )
        )
        variants.append(
            VariantState(
                variant.name,
                variant.initial_weight,
                variant.initial_weight,
                count,
                shadow=variant.name in shadows,
            )
        )
    return Endpoint(
        name=name,
        arn=arn,
        created=now,
        modified=now,
        config_name=config.name,
        status=EndpointStatus.CREATING,
        variants=tuple(variants),
        groups=tuple(groups),
        next_group=len(groups) + 1,
        deployment_config=deployment_config,
        last_deployment_config=deployment_config,
    )


def variant_wire(
    endpoint: Endpoint,
    variant: VariantState,
    config: EndpointConfig | None,
    pending: EndpointConfig | None = None,
    changing: Mapping[str, VariantState] | None = None,
) -> dict[str, Any]:
    """``pending``: the config an update moves to; ``changing``: the variant states an
    UpdateEndpointWeightsAndCapacities under way moves to."""
    observed = endpoint.observed.get(variant.name, ObservedVariant())
    wire: dict[str, Any] = {
        "VariantName": variant.name,
        "DeployedImages": [
            {"SpecifiedImage": s, "ResolvedImage": r, "ResolutionTime": t}
            for s, r, t in observed.images
        ]
        or None,
        "CurrentWeight": variant.weight,
        "DesiredWeight": variant.desired_weight,
        "CurrentInstanceCount": observed.current_count,
        "DesiredInstanceCount": variant.desired_count,
        "VariantStatus": [
            {"Status": s, "StatusMessage": m, "StartTime": t} for s, m, t in observed.status
        ]
        or None,
    }
    spec = config.variant(variant.name) if config else None
    if spec is not None:
        wire["ManagedInstanceScaling"] = spec.spec.get("ManagedInstanceScaling")
        wire["RoutingConfig"] = spec.spec.get("RoutingConfig")
    desired = pending.variant(variant.name) if pending else None
    desired_override = None
    target = (changing or {}).get(variant.name)
    if target is not None:
        desired, desired_override = spec, target.serverless
    add_serverless(
        wire, spec, desired, override=variant.serverless, desired_override=desired_override
    )
    return wire


def capture_summary(config: EndpointConfig | None) -> dict[str, Any] | None:
    """DescribeEndpoint's ``DataCaptureConfig`` (``DataCaptureConfigSummary``).

    It is the current endpoint config's ``DataCaptureConfig``: during an
    update, the config being replaced. ``CaptureStatus`` is ``Started``
    when capture is enabled, ``Stopped`` when ``EnableCapture`` is false;
    ``KmsKeyId`` is left out when the config names none, as AWS does.
    """
    capture = config.capture if config is not None else None
    if not capture:
        return None
    enabled = bool(capture.get("EnableCapture", True))
    return {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage"),
        "DestinationS3Uri": capture.get("DestinationS3Uri"),
        "KmsKeyId": capture.get("KmsKeyId"),
    }


def describe_wire(
    endpoint: Endpoint, config: EndpointConfig | None, pending: EndpointConfig | None = None
) -> dict[str, Any]:
    """DescribeEndpoint's answer; ``pending`` is the config an update under way moves to."""
    changing = capacity_change(endpoint)
    return {
        "EndpointName": endpoint.name,
        "EndpointArn": endpoint.arn,
        "EndpointConfigName": endpoint.config_name,
        "ProductionVariants": [
            variant_wire(endpoint, v, config, pending, changing)
            for v in endpoint.production_variants
        ],
        "ShadowProductionVariants": [
            variant_wire(endpoint, v, config, pending, changing) for v in endpoint.shadow_variants
        ]
        or None,
        "DataCaptureConfig": capture_summary(config),
        # As the current endpoint config has it (AWS shows it on DescribeEndpoint too).
        "AsyncInferenceConfig": config.spec.get("AsyncInferenceConfig") if config else None,
        "EndpointStatus": endpoint.status.value,
        "FailureReason": endpoint.failure_reason,
        "CreationTime": endpoint.created,
        "LastModifiedTime": endpoint.modified,
        "LastDeploymentConfig": endpoint.last_deployment_config,
        "PendingDeploymentSummary": pending_summary(endpoint, pending),
    }


class EndpointsService:
    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx

    def not_found(self, name: str) -> ValidationError:
        return ValidationError(f'Could not find endpoint "{self.ctx.arn(KIND, name)}".')

    def get(self, name: str) -> Endpoint:
        record = self.ctx.store.get(KIND, name)
        if record is None:
            raise self.not_found(name)
        return endpoint_from_record(record)

    def config(self, name: str) -> EndpointConfig:
        record = self.ctx.store.get(config_domain.KIND, name)
        if record is None:
            raise ValidationError(
                f'Could not find endpoint configuration "{self.ctx.arn(config_domain.KIND, name)}".'
            )
        return config_domain.endpoint_config_from_record(record)

    def check_models(self, config: EndpointConfig) -> None:
        for variant in (*config.variants, *config.shadow_variants):
            if (
                variant.model_name
                and self.ctx.store.get(model_domain.KIND, variant.model_name) is None
            ):
                raise ValidationError(
                    f'Could not find model "{self.ctx.arn(model_domain.KIND, variant.model_name)}".'
                )

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]
        arn = self.ctx.arn(KIND, name)
        if self.ctx.store.get(KIND, name) is not None:
            raise ValidationError(f'Cannot create already existing endpoint "{arn}".')
        config = self.config(params["EndpointConfigName"])
        self.check_models(config)
        tags = tag_pairs(params.get("Tags"))
        check_tag_count(tags)
        endpoint = initial_state(name, arn, self.ctx.now(), config, params.get("DeploymentConfig"))
        try:
            with self.ctx.store.transaction():
                self.ctx.store.insert(endpoint.to_record())
                if tags:
                    self.ctx.store.set_tags(arn, tags)
        except AlreadyExists:
            raise ValidationError(f'Cannot create already existing endpoint "{arn}".') from None
        self.ctx.notify(name)
        return {"EndpointArn": arn}

    def describe_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.get(params["EndpointName"])
        record = self.ctx.store.get(config_domain.KIND, endpoint.config_name)
        config = config_domain.endpoint_config_from_record(record) if record else None
        pending = None
        new_config = pending_config_name(endpoint)
        if new_config is not None:
            found = self.ctx.store.get(config_domain.KIND, new_config)
            pending = config_domain.endpoint_config_from_record(found) if found else None
        return describe_wire(endpoint, config, pending)

    def delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.get(params["EndpointName"])
        if endpoint.status in _IN_PROGRESS:
            raise ValidationError(f'Cannot delete in-progress endpoint "{endpoint.arn}".')
        self._check_no_components(endpoint)
        deleting = endpoint.with_changes(status=EndpointStatus.DELETING, modified=self.ctx.now())
        self.ctx.store.put(deleting.to_record())
        self.ctx.notify(endpoint.name)
        return {}

    def _check_no_components(self, endpoint: Endpoint) -> None:
        """AWS refuses to delete an endpoint that still hosts inference components.

        Components already ``Deleting`` do not count: scripts delete their
        components and then the endpoint without waiting in between. They
        go with the endpoint (the component runner removes them once their
        copies have stopped, and only then the endpoint's record goes).
        """
        names = sorted(
            component.name
            for component in (
                component_domain.component_from_record(r)
                for r in self.ctx.store.list_records(component_domain.KIND)
                if str(r.doc.get("endpoint", "")).lower() == endpoint.name.lower()
            )
            if component.status is not component_domain.ComponentStatus.DELETING
        )
        if names:
            raise ValidationError(
                f'Cannot delete endpoint "{endpoint.arn}" because inference components are '
                f"deployed to it: {', '.join(names)}. Delete the inference components first."
            )

    def list_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        status = params.get("StatusEquals")
        result = page_records(
            self.ctx.store,
            KIND,
            params,
            SORT_COLUMNS,
            equals=(Equals("status", status),) if status is not None else (),
            doc_fields=("status",),
        )
        return {
            "Endpoints": [
                {
                    "EndpointName": r.name,
                    "EndpointArn": r.arn,
                    "CreationTime": r.created,
                    "LastModifiedTime": r.modified,
                    "EndpointStatus": r.doc["status"],
                }
                for r in result.items
            ],
            "NextToken": result.next_token,
        }
