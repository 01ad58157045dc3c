"""RegisterScalableTarget, DeregisterScalableTarget, DescribeScalableTargets, and tags.

Registering checks that the resource exists (the endpoint and its variant,
or the inference component) with SageMaker's own messages; registering an
existing target updates the members the request names and keeps the rest
(its ARN, tags and creation time). A new or changed ``MinCapacity`` /
``MaxCapacity`` puts the resource's capacity back inside the range at the
controller's next tick (an activity with the cause ``minimum capacity was
set to N``), as AWS does.

Deregistering deletes the target's scaling policies (with their target
tracking alarms), its scheduled actions and its tags; its past activities
stay. Tags (TagResource, UntagResource, ListTagsForResource) are kept by
the target's ARN, at most :data:`MAX_TAGS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from moorage.autoscaling.activities import ActivityLog
from moorage.autoscaling.arns import new_target_id, service_linked_role, target_arn
from moorage.autoscaling.errors import LimitExceeded, ObjectNotFound, ResourceNotFound, TooManyTags
from moorage.autoscaling.levers import LeverSet
from moorage.autoscaling.paging import page
from moorage.autoscaling.records import (
    SCHEDULED_KIND,
    TARGET_KIND,
    Registry,
    ScalableTarget,
    Suspended,
)
from moorage.autoscaling.resources import (
    NAMESPACE,
    ResourceRef,
    check_filter,
    check_namespace,
    parse_dimension,
    parse_target,
)
from moorage.control.context import ControlContext
from moorage.errors import ValidationError

MAX_TARGETS = 3000
MAX_TAGS = 50
DESCRIBE_MAX_RESULTS = 50


class Hooks(Protocol):
    """What the controller hears of (:class:`~moorage.autoscaling.controller.Controller`)."""

    def bounds_changed(self, ref: ResourceRef) -> None: ...

    def schedules_changed(self) -> None: ...


class PolicyRemover(Protocol):
    def remove_all(self, ref: ResourceRef) -> None: ...


def target_not_found(ref: ResourceRef) -> ObjectNotFound:
    return ObjectNotFound(
        f"No scalable target registered for service namespace: {NAMESPACE}, resource ID: "
        f"{ref.resource_id}, scalable dimension: {ref.dimension.value}"
    )


def ref_of(params: Mapping[str, Any]) -> ResourceRef:
    return parse_target(
        params["ServiceNamespace"], params["ResourceId"], params["ScalableDimension"]
    )


class TargetsService:
    def __init__(
        self,
        ctx: ControlContext,
        registry: Registry,
        levers: LeverSet,
        activities: ActivityLog,
        hooks: Hooks,
        policies: PolicyRemover,
    ) -> None:
        self.ctx = ctx
        self.registry = registry
        self.levers = levers
        self.activities = activities
        self.hooks = hooks
        self.policies = policies

    def require(self, ref: ResourceRef) -> ScalableTarget:
        target = self.registry.target(ref)
        if target is None:
            raise target_not_found(ref)
        return target

    # -- RegisterScalableTarget ---------------------------------------------------

    def register_scalable_target(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = ref_of(params)
        # The resource must exist (SageMaker's own "Could not find ..." otherwise).
        self.levers.of(ref).check(ref)
        existing = self.registry.target(ref)
        minimum = params.get("MinCapacity", existing.minimum if existing else None)
        maximum = params.get("MaxCapacity", existing.maximum if existing else None)
        if minimum is None or maximum is None:
            raise ValidationError(
                "MinCapacity and MaxCapacity are required when registering a new scalable target."
            )
        if minimum < 0 or maximum < 0:
            raise ValidationError("MinCapacity and MaxCapacity must not be negative.")
        if minimum > maximum:
            raise ValidationError(
                f"Minimum capacity ({minimum}) cannot be greater than maximum capacity ({maximum})."
            )
        now = self.ctx.now()
        tags = list((params.get("Tags") or {}).items())
        if existing is None:
            if len(self.registry.targets()) >= MAX_TARGETS:
                raise LimitExceeded(
                    f"A namespace can have at most {MAX_TARGETS} scalable targets in moorage, "
                    "as on AWS."
                )
            _check_tags(tags)
            target = ScalableTarget(
                ref=ref,
                minimum=minimum,
                maximum=maximum,
                role_arn=params.get("RoleARN") or service_linked_role(self.ctx.partition),
                arn=target_arn(self.ctx.partition, new_target_id()),
                created=now,
                suspended=Suspended().updated(params.get("SuspendedState")),
            )
        else:
            # Tags are only set at creation; TagResource changes them afterwards.
            tags = []
            target = existing.with_changes(
                minimum=minimum,
                maximum=maximum,
                role_arn=params.get("RoleARN") or existing.role_arn,
                suspended=existing.suspended.updated(params.get("SuspendedState")),
            )
        with self.ctx.store.transaction():
            self.registry.put_target(target, now)
            if tags:
                self.ctx.store.set_tags(target.arn, tags)
        self.hooks.bounds_changed(ref)
        return {"ScalableTargetARN": target.arn}

    # -- DeregisterScalableTarget -------------------------------------------------

    def deregister_scalable_target(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = ref_of(params)
        target = self.registry.target(ref)
        if target is None:
            raise ObjectNotFound(
                f"No scalable target found for service namespace: {NAMESPACE}, resource ID: "
                f"{ref.resource_id}, scalable dimension: {ref.dimension.value}"
            )
        store = self.ctx.store
        with store.transaction():
            self.policies.remove_all(ref)
            for action in self.registry.scheduled_actions(ref):
                store.delete(SCHEDULED_KIND, action.key)
            store.delete(TARGET_KIND, ref.key)
            store.drop_tags(target.arn)
        self.activities.forget_target(ref)
        self.hooks.schedules_changed()
        return {}

    # -- DescribeScalableTargets --------------------------------------------------

    def describe_scalable_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        check_namespace(params["ServiceNamespace"])
        ids = params.get("ResourceIds")
        dimension = params.get("ScalableDimension")
        check_filter(None if not ids else "ids", dimension)
        wanted_dimension = parse_dimension(dimension) if dimension is not None else None
        wanted_ids = {i.lower() for i in ids} if ids else None
        targets = [
            t
            for t in self.registry.targets()
            if (wanted_ids is None or t.ref.resource_id.lower() in wanted_ids)
            and (wanted_dimension is None or t.ref.dimension is wanted_dimension)
        ]
        result = page(
            "DescribeScalableTargets",
            targets,
            lambda t: [t.created, t.ref.key],
            params,
            most=DESCRIBE_MAX_RESULTS,
        )
        return {
            "ScalableTargets": [t.to_wire() for t in result.items],
            "NextToken": result.next_token,
        }

    # -- tags -----------------------------------------------------------------------

    def _tagged(self, arn: str) -> ScalableTarget:
        target = self.registry.target_by_arn(arn)
        if target is None:
            raise ResourceNotFound(f"No scalable target found for ARN {arn}.")
        return target

    def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        target = self._tagged(params["ResourceARN"])
        new = list(params["Tags"].items())
        _check_keys(new)
        merged = {**dict(self.ctx.store.get_tags(target.arn)), **dict(new)}
        if len(merged) > MAX_TAGS:
            raise TooManyTags(
                f"The scalable target {target.arn} would have {len(merged)} tags; a scalable "
                f"target can have at most {MAX_TAGS}."
            )
        self.ctx.store.set_tags(target.arn, new)
        return {}

    def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        target = self._tagged(params["ResourceARN"])
        self.ctx.store.remove_tags(target.arn, list(params["TagKeys"]))
        return {}

    def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        target = self._tagged(params["ResourceARN"])
        return {"Tags": dict(self.ctx.store.get_tags(target.arn))}


def _check_tags(tags: list[tuple[str, str]]) -> None:
    _check_keys(tags)
    if len(tags) > MAX_TAGS:
        raise TooManyTags(f"A scalable target can have at most {MAX_TAGS} tags, not {len(tags)}.")


def _check_keys(tags: list[tuple[str, str]]) -> None:
    reserved = sorted(key for key, _ in tags if key.lower().startswith("aws:"))
    if reserved:
        raise ValidationError(
            f"Tag keys starting with aws: are reserved for AWS's use: {', '.join(reserved)}."
        )
