"""UpdateEndpoint and UpdateEndpointWeightsAndCapacities.

Both validate, plan the whole rollout (:mod:`moorage.deploy.planning`),
store it on the endpoint with status ``Updating`` and return; the reconciler
and the rollout driver carry it out.
"""

from __future__ import annotations

from typing import Any

from moorage.async_inference.config import check_async_kept, check_zero_instances
from moorage.control.context import ControlContext
from moorage.control.endpoints import EndpointsService
from moorage.deploy.plan_format import plan_document
from moorage.deploy.planning import UpdatePlan, plan_capacities, plan_update
from moorage.deploy.policy import PolicyError
from moorage.domain import inference_component as component_domain
from moorage.domain.endpoint import Endpoint, EndpointStatus
from moorage.domain.endpoint_config import EndpointConfig
from moorage.errors import ValidationError


class EndpointUpdatesService:
    def __init__(self, ctx: ControlContext, endpoints: EndpointsService) -> None:
        self.ctx = ctx
        self.endpoints = endpoints

    def _updatable(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint.status is EndpointStatus.FAILED:
            raise ValidationError(
                f'Cannot update endpoint "{endpoint.arn}" because it is in Failed state; '
                "delete it and create it again."
            )
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        hosted = [
            r.name
            for r in self.ctx.store.list_records(component_domain.KIND)
            if str(r.doc.get("endpoint", "")).lower() == endpoint.name.lower()
        ]
        if hosted:
            # Copies are placed on the variant's instances; moving them to a new fleet
            # is not implemented, so the instances must stay as they are.
            raise ValidationError(
                f'Cannot update endpoint "{endpoint.arn}": moorage does not yet update an '
                f"endpoint that hosts inference components ({', '.join(sorted(hosted))}). "
                "Use managed instance scaling to change its instance count."
            )
        return endpoint

    def _plan(self, params: dict[str, Any]) -> tuple[Endpoint, UpdatePlan]:
        endpoint = self._updatable(params["EndpointName"])
        config = self.endpoints.config(params["EndpointConfigName"])
        self.endpoints.check_models(config)
        current = self._config_or_none(endpoint.config_name)
        check_async_kept(endpoint.name, current.spec if current else None, config.spec)
        retain_all = bool(params.get("RetainAllVariantProperties", False))
        exclude = [
            str(p["VariantPropertyType"])
            for p in params.get("ExcludeRetainedVariantProperties", [])
        ]
        if exclude and not retain_all:
            raise ValidationError(
                "ExcludeRetainedVariantProperties may only be specified when "
                "RetainAllVariantProperties is true."
            )
        if params.get("RetainDeploymentConfig") and params.get("DeploymentConfig"):
            raise ValidationError(
                "DeploymentConfig may not be specified when RetainDeploymentConfig is true."
            )
        deployment_config = (
            endpoint.last_deployment_config
            if params.get("RetainDeploymentConfig")
            else params.get("DeploymentConfig")
        )
        if endpoint.groups and config.component_based != self._component_based(endpoint):
            raise ValidationError(
                "An endpoint cannot be updated between an endpoint configuration with models "
                "and one for inference components."
            )
        try:
            plan = plan_update(
                endpoint,
                config,
                deployment_config=deployment_config,
                retain_all=retain_all,
                exclude=exclude,
                now=self.ctx.now(),
            )
        except PolicyError as exc:
            raise ValidationError(str(exc)) from None
        return endpoint, plan

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint, plan = self._plan(params)
        self.ctx.store.put(plan.started(endpoint, self.ctx.now()).to_record())
        self.ctx.notify(endpoint.name)
        return {"EndpointArn": endpoint.arn}

    def plan_endpoint_update(self, params: dict[str, Any]) -> dict[str, Any]:
        """What UpdateEndpoint would do with ``params``, changing nothing."""
        endpoint, plan = self._plan(params)
        config = self.endpoints.config(params["EndpointConfigName"])
        return plan_document(endpoint, config, plan)

    def update_endpoint_weights_and_capacities(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._updatable(params["EndpointName"])
        current = self._config_or_none(endpoint.config_name)
        check_zero_instances(
            params["DesiredWeightsAndCapacities"], current.spec if current else None
        )
        try:
            deployment = plan_capacities(
                endpoint,
                params["DesiredWeightsAndCapacities"],
                now=self.ctx.now(),
                config=current,
            )
        except PolicyError as exc:
            raise ValidationError(str(exc)) from None
        updated = endpoint.with_changes(
            status=EndpointStatus.UPDATING,
            failure_reason=None,
            deployment=deployment.to_doc(),
            modified=self.ctx.now(),
        )
        self.ctx.store.put(updated.to_record())
        self.ctx.notify(endpoint.name)
        return {"EndpointArn": endpoint.arn}

    def _config_or_none(self, name: str) -> EndpointConfig | None:
        """The endpoint config, or None when it was deleted while the endpoint serves it."""
        try:
            return self.endpoints.config(name)
        except ValidationError:
            return None

    def _component_based(self, endpoint: Endpoint) -> bool:
        config = self._config_or_none(endpoint.config_name)
        return config.component_based if config is not None else False
