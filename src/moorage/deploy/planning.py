"""Planning an endpoint update: from (endpoint, new config, request) to a Deployment.

Pure apart from reading what it is given. Used by UpdateEndpoint, by
UpdateEndpointWeightsAndCapacities and by ``moorage plan`` (which prints the
steps without storing anything). Errors are :class:`PolicyError` with a
message naming the broken rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moorage.deploy import rollout as rollout_machine
from moorage.deploy.concurrency_update import serverless_override
from moorage.deploy.deployment import Deployment, FleetIds
from moorage.deploy.policy import (
    DEFAULT_MAX_EXECUTION_S,
    Policy,
    PolicyError,
    Rolling,
    check_policy,
    parse_policy,
)
from moorage.deploy.timeline import Fleet, Step, capacity_steps, plan_steps, total_wait_s
from moorage.domain.endpoint import Endpoint, EndpointStatus, VariantState
from moorage.domain.endpoint_config import EndpointConfig

RETAINABLE = ("DesiredInstanceCount", "DesiredWeight")
# What a DesiredWeightAndCapacity may change; one of them must be given.
_CAPACITY_CHANGES = ("DesiredWeight", "DesiredInstanceCount", "ServerlessUpdateConfig")


@dataclass(frozen=True)
class UpdatePlan:
    policy: Policy
    steps: list[Step]
    deployment: Deployment
    next_group: int

    def started(self, endpoint: Endpoint, now: float) -> Endpoint:
        """The endpoint as UpdateEndpoint stores it: ``Updating``, carrying this plan.

        An update's ``DeploymentConfig`` (given, or retained) becomes the
        endpoint's ``LastDeploymentConfig`` at once, whether the update then
        completes or rolls back: AWS shows the latest update's config, and
        ``RetainDeploymentConfig`` reuses it (so a canary that rolled back
        runs as the same canary again). An update without one leaves it as
        it was.
        """
        last = self.deployment.deployment_config
        return endpoint.with_changes(
            status=EndpointStatus.UPDATING,
            failure_reason=None,
            deployment=self.deployment.to_doc(),
            next_group=self.next_group,
            last_deployment_config=endpoint.last_deployment_config if last is None else last,
            modified=now,
        )


def _current_counts(endpoint: Endpoint) -> dict[str, tuple[str, int, str]]:
    """variant → (group id, instance count, instance type) of its one serving group."""
    counts: dict[str, tuple[str, int, str]] = {}
    for group in endpoint.groups:
        counts[group.variant] = (group.id, group.target, group.instance_type)
    return counts


def _no_instances(variant: str, config: EndpointConfig | None) -> tuple[str, int, str]:
    """A variant scaled in to zero instances (asynchronous inference) has no group left.

    Scaling it out starts a group of id ``z-<variant>``: a variant at rest has
    one group at most, so the id meets no other group, and ``g<N>`` ids stay
    UpdateEndpoint's.
    """
    spec = config.variant(variant) if config is not None else None
    return f"z-{variant}", 0, (spec.instance_type if spec is not None else None) or ""


def plan_update(
    endpoint: Endpoint,
    config: EndpointConfig,
    *,
    deployment_config: Mapping[str, Any] | None,
    retain_all: bool = False,
    exclude: Sequence[str] = (),
    now: float,
) -> UpdatePlan:
    policy = parse_policy(deployment_config)
    current = _current_counts(endpoint)
    new_variants: list[VariantState] = []
    fleets: dict[str, Fleet] = {}
    shadow_fleets: dict[str, Fleet] = {}
    ids: dict[str, FleetIds] = {}
    next_group = endpoint.next_group
    shadow_names = {v.name for v in config.shadow_variants}
    for spec in (*config.variants, *config.shadow_variants):
        count = spec.initial_instance_count
        weight = spec.initial_weight
        old = endpoint.variant(spec.name)
        if retain_all and old is not None:
            if "DesiredInstanceCount" not in exclude:
                count = old.desired_count
            if "DesiredWeight" not in exclude:
                weight = old.desired_weight
        shadow = spec.name in shadow_names
        # No serverless override: the new config's ServerlessConfig applies as
        # given, RetainAllVariantProperties or not (its VariantPropertyType
        # names no serverless setting). A rollback restores the old variants,
        # override included.
        new_variants.append(VariantState(spec.name, weight, weight, count, shadow=shadow))
        blue = current.get(spec.name)
        (shadow_fleets if shadow else fleets)[spec.name] = Fleet(blue[1] if blue else 0, count)
        ids[spec.name] = FleetIds(
            blue[0] if blue else None,
            f"g{next_group}",
            blue[2] if blue else "",
            spec.instance_type or "serverless",
        )
        next_group += 1
    old_shadows = {v.name for v in endpoint.shadow_variants}
    for variant, (group_id, count, instance_type) in current.items():
        if variant not in fleets and variant not in shadow_fleets:
            (shadow_fleets if variant in old_shadows else fleets)[variant] = Fleet(count, 0)
            ids[variant] = FleetIds(group_id, None, instance_type, "")
    same_variants = {v.name for v in endpoint.production_variants} == {
        v.name for v in config.variants
    }
    steps = plan_steps(policy, fleets, shadow_fleets)
    check_policy(
        policy,
        {v.name: v.desired_count for v in new_variants if not v.shadow},
        same_variants=same_variants,
        explicit=bool(
            deployment_config
            and (
                deployment_config.get("BlueGreenUpdatePolicy")
                or deployment_config.get("RollingUpdatePolicy")
                or deployment_config.get("AutoRollbackConfiguration")
            )
        ),
        total_wait_s=total_wait_s(steps),
    )
    update = policy.update
    rollback_batch = update.rollback_batch if isinstance(update, Rolling) else None
    state = rollout_machine.start(
        kind="update",
        steps=steps,
        blue_counts={v: f.blue for v, f in (*fleets.items(), *shadow_fleets.items())},
        rollback_batch=rollback_batch,
        alarms=policy.alarms,
        now=now,
        max_execution_s=float(update.max_execution_s),
    )
    deployment = Deployment(
        rollout=state,
        old_config=endpoint.config_name,
        new_config=config.name,
        fleets=ids,
        old_variants=endpoint.variants,
        new_variants=tuple(new_variants),
        deployment_config=deployment_config,
    )
    return UpdatePlan(policy, steps, deployment, next_group)


def plan_capacities(
    endpoint: Endpoint,
    desired: Sequence[Mapping[str, Any]],
    *,
    now: float,
    config: EndpointConfig | None = None,
) -> Deployment:
    """UpdateEndpointWeightsAndCapacities as a small rollout over the serving groups.

    ``config`` is the endpoint's config (None when it was deleted): a
    ``ServerlessUpdateConfig`` is merged with its ``ServerlessConfig``
    (:mod:`moorage.deploy.concurrency_update`). A variant's recorded
    serverless override is kept unless the request changes it.
    """
    wanted: dict[str, Mapping[str, Any]] = {}
    for item in desired:
        name = str(item["VariantName"])
        if name in wanted:
            raise PolicyError(f'The variant name "{name}" appears more than once.')
        wanted[name] = item
    known = {v.name for v in endpoint.variants}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise PolicyError(
            "The variant name(s) "
            + ", ".join(f'"{n}"' for n in unknown)
            + f' is/are not present in the endpoint "{endpoint.arn}".'
        )
    for name, item in wanted.items():
        if all(item.get(k) is None for k in _CAPACITY_CHANGES):
            raise PolicyError(
                f'Variant "{name}" must specify DesiredWeight, DesiredInstanceCount or '
                "ServerlessUpdateConfig."
            )
    current = _current_counts(endpoint)
    changes: dict[str, tuple[int, int]] = {}
    variants: list[VariantState] = []
    ids: dict[str, FleetIds] = {}
    for variant in endpoint.variants:
        item = wanted.get(variant.name, {})
        group_id, count, instance_type = current.get(variant.name) or _no_instances(
            variant.name, config
        )
        serverless = serverless_override(
            variant,
            item,
            serverless=instance_type == "serverless",
            spec=config.variant(variant.name) if config is not None else None,
            config_name=endpoint.config_name,
        )
        desired_count = int(item.get("DesiredInstanceCount", variant.desired_count))
        weight = float(item.get("DesiredWeight", variant.desired_weight))
        changes[variant.name] = (count, desired_count)
        variants.append(
            VariantState(
                variant.name,
                weight,
                weight,
                desired_count,
                shadow=variant.shadow,
                serverless=serverless,
            )
        )
        ids[variant.name] = FleetIds(group_id, None, instance_type, "")
    steps = capacity_steps(changes)
    state = rollout_machine.start(
        kind="capacity",
        steps=steps,
        blue_counts={v: c for v, (c, _) in changes.items()},
        rollback_batch=None,
        alarms=(),
        now=now,
        max_execution_s=float(DEFAULT_MAX_EXECUTION_S),
    )
    return Deployment(
        rollout=state,
        old_config=endpoint.config_name,
        new_config=endpoint.config_name,
        fleets=ids,
        old_variants=endpoint.variants,
        new_variants=tuple(variants),
        deployment_config=None,
    )
