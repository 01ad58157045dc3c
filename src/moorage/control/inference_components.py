"""CreateInferenceComponent, Describe-, List-, Update-, UpdateRuntimeConfig and Delete-.

Each change is planned on the spot with the pure scheduler
(:mod:`moorage.deploy.component_plan`): copies that do not fit the variant's
instances (after managed instance scaling, when enabled) are refused with
``ResourceLimitExceeded`` saying what did not fit where, and nothing is
changed. A change that fits is stored with its placement in one
transaction, with status ``Creating``, ``Updating`` or ``Deleting``; the
component runner (``deploy/components.py``) starts and stops the copies and
moves the status on. A new specification with a ``DeploymentConfig`` is a
rolling update (:mod:`moorage.deploy.component_rollout`): every batch is
placed here first, in a simulation, and only its first batch is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.control import component_spec as checks
from moorage.control.component_merge import merged_specification
from moorage.control.component_wire import describe_wire, summary_wire
from moorage.control.context import ControlContext
from moorage.control.endpoints import EndpointsService
from moorage.control.location_checks import check_container
from moorage.control.model_support import check_artifact_url
from moorage.control.paging import page_records
from moorage.control.tags import check_tag_count, tag_pairs
from moorage.deploy import component_plan as plan
from moorage.deploy import component_rollout as rolling
from moorage.deploy.component_policy import parse_component_policy
from moorage.deploy.policy import PolicyError
from moorage.deploy.rollout import Rollout
from moorage.domain import component_placement as placement_domain
from moorage.domain import endpoint_config as config_domain
from moorage.domain.component_placement import EndpointPlacement, VariantCapacity
from moorage.domain.endpoint import Endpoint, EndpointStatus
from moorage.domain.endpoint_config import EndpointConfig, VariantSpec
from moorage.domain.inference_component import (
    KIND,
    ComponentStatus,
    InferenceComponent,
    Previous,
    component_from_record,
    requirements_of,
    strategy_of,
)
from moorage.errors import ResourceLimitExceeded, ValidationError
from moorage.placement import DoesNotFit, default_catalog
from moorage.store.base import AlreadyExists, Equals

SORT_COLUMNS = {"Name": "key", "CreationTime": "created", "Status": "status"}

NOT_A_COMPONENT_ENDPOINT = (
    "Inference Components are not supported in this Endpoint. Please make sure this endpoint "
    "can deploy inference components."
)

# Endpoint statuses in which components may be added.
_HOSTING = frozenset(
    {EndpointStatus.CREATING, EndpointStatus.IN_SERVICE, EndpointStatus.SYSTEM_UPDATING}
)


class InferenceComponentsService:
    def __init__(self, ctx: ControlContext, endpoints: EndpointsService) -> None:
        self.ctx = ctx
        self.endpoints = endpoints

    # -- reading ----------------------------------------------------------

    def find(self, name: str) -> InferenceComponent | None:
        record = self.ctx.store.get(KIND, name)
        return component_from_record(record) if record else None

    def get(self, name: str) -> InferenceComponent:
        component = self.find(name)
        if component is None:
            raise ValidationError(
                f'Could not find inference component "{self.ctx.arn(KIND, name)}".'
            )
        return component

    def all(self) -> list[InferenceComponent]:
        return [component_from_record(r) for r in self.ctx.store.list_records(KIND)]

    def on_endpoint(self, endpoint: str) -> list[InferenceComponent]:
        return [c for c in self.all() if c.endpoint_name.lower() == endpoint.lower()]

    def placement(self, endpoint: Endpoint, config: EndpointConfig | None) -> EndpointPlacement:
        """The endpoint's placement, or its empty instances if nothing was placed yet."""
        record = self.ctx.store.get(placement_domain.KIND, endpoint.name)
        if record is not None:
            stored = placement_domain.placement_from_record(record)
            if stored.endpoint_created == endpoint.created:
                return stored
        variants = []
        for spec in config.variants if config else ():
            state = endpoint.variant(spec.name)
            if spec.instance_type is None or state is None:
                continue
            if state.desired_count > plan.MAX_INSTANCES:
                raise ResourceLimitExceeded(
                    f"Production variant {spec.name} has {state.desired_count} instances; moorage "
                    f"places inference components on at most {plan.MAX_INSTANCES} instances of "
                    "a variant."
                )
            kind = default_catalog().get(spec.instance_type)
            variants.append(plan.initial_capacity(spec.name, kind, state.desired_count))
        return EndpointPlacement(endpoint.name, endpoint.arn, endpoint.created, tuple(variants))

    def _config(self, endpoint: Endpoint) -> EndpointConfig | None:
        record = self.ctx.store.get(config_domain.KIND, endpoint.config_name)
        return config_domain.endpoint_config_from_record(record) if record else None

    # -- create -----------------------------------------------------------

    def create_inference_component(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["InferenceComponentName"]
        arn = self.ctx.arn(KIND, name)
        if self.find(name) is not None:
            raise ValidationError(f'Cannot create already existing inference component "{arn}".')
        checks.check_specification_choice(params, required=True)
        endpoint = self.endpoints.get(params["EndpointName"])
        config = self.endpoints.config(endpoint.config_name)
        if not config.component_based:
            raise ValidationError(NOT_A_COMPONENT_ENDPOINT)
        if endpoint.status not in _HOSTING:
            raise ValidationError(
                f'Cannot create inference component "{arn}" on endpoint "{endpoint.arn}" '
                f"because the endpoint is in {endpoint.status.value} state."
            )
        variant = self._variant(endpoint, config, params.get("VariantName"))
        spec: Mapping[str, Any] = params["Specification"]
        runtime = params.get("RuntimeConfig")
        checks.check_specification(spec, variant)
        checks.check_runtime_config(spec, runtime)
        self._check(spec, variant, endpoint)
        tags = tag_pairs(params.get("Tags"))
        check_tag_count(tags)
        copies = int(runtime["CopyCount"]) if runtime is not None else 0
        placement = self.placement(endpoint, config)
        capacity = self._capacity(placement, variant)
        if not spec.get("BaseInferenceComponentName"):
            capacity = self._add(capacity, variant, endpoint, name, spec, copies, generation=1)
        now = self.ctx.now()
        component = InferenceComponent(
            name=name,
            arn=arn,
            created=now,
            modified=now,
            endpoint_name=endpoint.name,
            endpoint_arn=endpoint.arn,
            variant=variant.name,
            status=ComponentStatus.CREATING,
            spec=spec,
            desired_copies=copies,
        )
        try:
            self._commit(
                endpoint, placement.with_variant(capacity), component, insert=True, tags=tags
            )
        except AlreadyExists:
            raise ValidationError(
                f'Cannot create already existing inference component "{arn}".'
            ) from None
        return {"InferenceComponentArn": arn}

    def _variant(self, endpoint: Endpoint, config: EndpointConfig, name: str | None) -> VariantSpec:
        production = [v for v in config.variants if endpoint.variant(v.name) is not None]
        if name is None:
            if len(production) == 1:
                return production[0]
            names = ", ".join(v.name for v in production)
            raise ValidationError(
                f'VariantName is required: endpoint "{endpoint.arn}" has more than one '
                f"production variant ({names})."
            )
        for variant in production:
            if variant.name == name:
                return variant
        raise ValidationError(f'Could not find variant "{name}" on endpoint "{endpoint.arn}".')

    def _check(self, spec: Mapping[str, Any], variant: VariantSpec, endpoint: Endpoint) -> None:
        checks.check_specification(spec, variant)
        check_container(self.ctx.file_roots, "Specification.Container", spec.get("Container") or {})
        check_artifact_url(
            "Specification.Container.ArtifactUrl", (spec.get("Container") or {}).get("ArtifactUrl")
        )
        try:
            requirements_of(spec)
        except ValueError as exc:
            raise ValidationError(f"ComputeResourceRequirements are not valid: {exc}.") from None
        checks.check_model(self.ctx, spec)
        checks.check_base(self.ctx, spec, endpoint.name, variant.name)

    @staticmethod
    def _capacity(placement: EndpointPlacement, variant: VariantSpec) -> VariantCapacity:
        capacity = placement.variant(variant.name)
        if capacity is None:
            raise ValidationError(f"Variant {variant.name} has no instances to place copies on.")
        return capacity

    def _add(
        self,
        capacity: VariantCapacity,
        variant: VariantSpec,
        endpoint: Endpoint,
        name: str,
        spec: Mapping[str, Any],
        count: int,
        *,
        generation: int,
    ) -> VariantCapacity:
        placed = len(capacity.copies_of(name))
        if placed + count > plan.MAX_COPIES:
            raise ResourceLimitExceeded(
                f"Inference component {name} would have {placed + count} copies; moorage runs at "
                f"most {plan.MAX_COPIES} copies of one inference component."
            )
        try:
            return plan.add_copies(
                capacity,
                name,
                requirements_of(spec),
                count,
                strategy_of(spec),
                generation=generation,
                limits=plan.scaling_limits(variant),
            )
        except DoesNotFit as exc:
            raise ResourceLimitExceeded(
                f"{exc.message}. (Endpoint {endpoint.name}, production variant {variant.name}.)"
            ) from None

    def _commit(
        self,
        endpoint: Endpoint,
        placement: EndpointPlacement,
        component: InferenceComponent,
        *,
        insert: bool = False,
        tags: list[tuple[str, str]] | None = None,
    ) -> None:
        """Store the component, its placement and the variant's instance counts together."""
        now = self.ctx.now()
        updated = endpoint
        for capacity in placement.variants:
            state = endpoint.variant(capacity.variant)
            if state is not None and state.desired_count != len(capacity.instances):
                updated = plan.with_instance_count(
                    updated, capacity.variant, len(capacity.instances)
                )
        with self.ctx.store.transaction():
            if insert:
                self.ctx.store.insert(component.to_record())
            else:
                self.ctx.store.put(component.to_record())
            self.ctx.store.put(placement.to_record(now))
            if updated is not endpoint:
                self.ctx.store.put(updated.with_changes(modified=now).to_record())
            if tags:
                self.ctx.store.set_tags(component.arn, tags)
        self.ctx.notify(endpoint.name)

    # -- describe and list ------------------------------------------------

    def describe_inference_component(self, params: dict[str, Any]) -> dict[str, Any]:
        return describe_wire(self.get(params["InferenceComponentName"]))

    def list_inference_components(self, params: dict[str, Any]) -> dict[str, Any]:
        equals = tuple(
            Equals(field, value, ignore_case=field == "endpoint")
            for field, value in (
                ("endpoint", params.get("EndpointNameEquals")),
                ("variant", params.get("VariantNameEquals")),
                ("status", params.get("StatusEquals")),
            )
            if value is not None
        )
        result = page_records(self.ctx.store, KIND, params, SORT_COLUMNS, equals=equals)
        return {
            "InferenceComponents": [summary_wire(component_from_record(r)) for r in result.items],
            "NextToken": result.next_token,
        }

    # -- update -----------------------------------------------------------

    def update_inference_component(self, params: dict[str, Any]) -> dict[str, Any]:
        component = self.get(params["InferenceComponentName"])
        checks.check_specification_choice(params, required=False)
        given = params.get("Specification")
        runtime = params.get("RuntimeConfig")
        if given is None and runtime is None:
            raise ValidationError(
                f'Nothing to update for inference component "{component.arn}": specify '
                "Specification, RuntimeConfig or both."
            )
        # Members the update leaves out keep their stored values (docs/inference-components.md).
        spec = None if given is None else merged_specification(component.spec, given)
        return self._update(component, spec, runtime, params.get("DeploymentConfig"))

    def update_inference_component_runtime_config(self, params: dict[str, Any]) -> dict[str, Any]:
        component = self.get(params["InferenceComponentName"])
        return self._update(component, None, params["DesiredRuntimeConfig"])

    def _updatable(self, component: InferenceComponent) -> None:
        if component.status is ComponentStatus.FAILED:
            raise ValidationError(
                f'Cannot update inference component "{component.arn}" because it is in Failed '
                "state; delete it and create it again."
            )
        if component.status is not ComponentStatus.IN_SERVICE:
            raise ValidationError(
                f'Cannot update in-progress inference component "{component.arn}".'
            )

    def _update(
        self,
        component: InferenceComponent,
        new_spec: Mapping[str, Any] | None,
        runtime: Mapping[str, Any] | None,
        deployment_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._updatable(component)
        if deployment_config is not None and component.is_adapter:
            raise ValidationError(
                "DeploymentConfig must not be specified for an adapter inference component "
                "(one with BaseInferenceComponentName): it has no copies of its own to roll "
                "over."
            )
        endpoint = self.endpoints.get(component.endpoint_name)
        config = self.endpoints.config(endpoint.config_name)
        variant = self._variant(endpoint, config, component.variant)
        spec = component.spec if new_spec is None else new_spec
        if new_spec is not None:
            if (new_spec.get("BaseInferenceComponentName") or None) != component.base:
                raise ValidationError(
                    "BaseInferenceComponentName cannot be changed by an update; create a new "
                    "inference component instead."
                )
            self._check(new_spec, variant, endpoint)
        if runtime is not None:
            checks.check_runtime_config(spec, runtime)
        count = int(runtime["CopyCount"]) if runtime is not None else component.desired_copies
        spec_changed = new_spec is not None and dict(new_spec) != dict(component.spec)
        if not spec_changed and count == component.desired_copies:
            return {"InferenceComponentArn": component.arn}
        placement = self.placement(endpoint, config)
        capacity = self._capacity(placement, variant)
        placed = tuple(c.copy.copy_id for c in capacity.copies_of(component.name))
        previous = Previous(component.spec, component.desired_copies, component.generation, placed)
        generation = component.generation + 1 if spec_changed else component.generation
        rollout = None
        if deployment_config is not None and (spec_changed or count > 0):
            rollout = self._plan_rollout(component, deployment_config, len(placed), count)
        deployment = None
        if deployment_config is not None:
            deployment = rolling.ComponentDeployment(
                deployment_config, rollout if spec_changed else None
            ).to_doc()
        if component.is_adapter:
            pass  # a new generation is loaded into the base's copies; nothing to place
        elif spec_changed and rollout is not None:
            capacity = self._first_batch(
                component.with_changes(spec=spec, generation=generation, previous=previous),
                capacity,
                variant,
                endpoint,
                rollout,
            )
        elif spec_changed:
            capacity = self._add(
                capacity, variant, endpoint, component.name, spec, count, generation=generation
            )
        elif count > component.desired_copies:
            capacity = self._add(
                capacity,
                variant,
                endpoint,
                component.name,
                spec,
                count - component.desired_copies,
                generation=generation,
            )
        else:
            capacity = plan.remove_copies(
                capacity,
                component.name,
                min(component.desired_copies - count, len(placed)),
                component.strategy,
                limits=plan.scaling_limits(variant),
            )
        updated = component.with_changes(
            status=ComponentStatus.UPDATING,
            spec=spec,
            desired_copies=count,
            generation=generation,
            previous=previous,
            failure_reason=None,
            deployment=deployment,
            modified=self.ctx.now(),
        )
        self._commit(endpoint, placement.with_variant(capacity), updated)
        return {"InferenceComponentArn": component.arn}

    def _plan_rollout(
        self,
        component: InferenceComponent,
        deployment_config: Mapping[str, Any],
        old_copies: int,
        new_copies: int,
    ) -> Rollout:
        """The rolling update's steps, refused with the rule it breaks."""
        try:
            return rolling.plan(
                parse_component_policy(deployment_config),
                component=component.name,
                variant=component.variant,
                old_copies=old_copies,
                new_copies=new_copies,
                now=self.ctx.now(),
            )
        except PolicyError as exc:
            raise ValidationError(str(exc)) from None

    def _first_batch(
        self,
        updated: InferenceComponent,
        capacity: VariantCapacity,
        variant: VariantSpec,
        endpoint: Endpoint,
        rollout: Rollout,
    ) -> VariantCapacity:
        """The placement of a rolling update's first batch, once every batch was seen to fit."""
        most = max(
            layout.blue_target + layout.green_target
            for step in rollout.steps
            for layout in step.layouts.values()
        )
        if most > plan.MAX_COPIES:
            raise ResourceLimitExceeded(
                f"Inference component {updated.name} would have {most} copies during the "
                f"rolling update; moorage runs at most {plan.MAX_COPIES} copies of one "
                "inference component."
            )
        try:
            return rolling.simulate(
                capacity,
                rolling.sides_of(updated),
                rollout,
                limits=plan.scaling_limits(variant),
            )
        except rolling.BatchDoesNotFit as exc:
            raise ResourceLimitExceeded(
                f"{exc.message}. (Endpoint {endpoint.name}, production variant {variant.name}; "
                f'rolling update step "{exc.step}".)'
            ) from None

    # -- delete -----------------------------------------------------------

    def delete_inference_component(self, params: dict[str, Any]) -> dict[str, Any]:
        component = self.get(params["InferenceComponentName"])
        if component.status is ComponentStatus.DELETING:
            raise ValidationError(
                f'Cannot delete in-progress inference component "{component.arn}".'
            )
        adapters = [
            c.name
            for c in self.on_endpoint(component.endpoint_name)
            if c.base is not None
            and c.base.lower() == component.name.lower()
            and c.status is not ComponentStatus.DELETING
        ]
        if adapters:
            raise ValidationError(
                f'Cannot delete inference component "{component.arn}" because adapter inference '
                f"components use it as their base: {', '.join(sorted(adapters))}. Delete them "
                "first."
            )
        endpoint = self.endpoints.get(component.endpoint_name)
        config = self._config(endpoint)
        placement = self.placement(endpoint, config)
        capacity = placement.variant(component.variant)
        if capacity is not None:
            spec = config.variant(component.variant) if config else None
            limits = plan.scaling_limits(spec) if spec is not None else None
            ids = [c.copy.copy_id for c in capacity.copies_of(component.name)]
            placement = placement.with_variant(plan.drop_copies(capacity, ids, limits=limits))
        deleting = component.with_changes(status=ComponentStatus.DELETING, modified=self.ctx.now())
        self._commit(endpoint, placement, deleting)
        return {}
