"""PutScheduledAction, DescribeScheduledActions, DeleteScheduledAction.

A scheduled action belongs to a registered scalable target. Its
``Schedule`` (:mod:`moorage.autoscaling.schedule`) and ``Timezone`` are
checked when it is put; when it runs, the controller sets the target's
``MinCapacity`` and/or ``MaxCapacity`` to its ``ScalableTargetAction`` and
then moves the capacity inside the new range. Putting an existing action
replaces the members the request names and keeps the others. The next run
is stored with the action, so a restart neither forgets nor repeats one (a
run missed while the server was stopped happens once, at start).
"""

from __future__ import annotations

from typing import Any

from moorage.autoscaling.arns import scheduled_action_arn
from moorage.autoscaling.errors import LimitExceeded, ObjectNotFound
from moorage.autoscaling.paging import page
from moorage.autoscaling.records import SCHEDULED_KIND, Registry, ScheduledAction
from moorage.autoscaling.resources import (
    NAMESPACE,
    ResourceRef,
    check_filter,
    check_namespace,
    parse_dimension,
)
from moorage.autoscaling.schedule import parse_schedule
from moorage.autoscaling.targets import Hooks, ref_of, target_not_found
from moorage.control.context import ControlContext
from moorage.errors import ValidationError

MAX_ACTIONS_PER_TARGET = 200
DESCRIBE_MAX_RESULTS = 50


def action_not_found(ref: ResourceRef, name: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"No scheduled action found for service namespace: {NAMESPACE}, resource ID: "
        f"{ref.resource_id}, scalable dimension: {ref.dimension.value}, scheduled action "
        f"name: {name}"
    )


class ScheduledActionsService:
    def __init__(self, ctx: ControlContext, registry: Registry, hooks: Hooks) -> None:
        self.ctx = ctx
        self.registry = registry
        self.hooks = hooks

    def put_scheduled_action(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = ref_of(params)
        if self.registry.target(ref) is None:
            raise target_not_found(ref)
        name = params["ScheduledActionName"]
        existing = self.registry.scheduled_action(ref, name)
        schedule = params.get("Schedule") or (existing.schedule if existing else None)
        if schedule is None:
            raise ValidationError("Schedule is required when creating a scheduled action.")
        timezone = params.get("Timezone", existing.timezone if existing else None)
        start = params.get("StartTime", existing.start if existing else None)
        end = params.get("EndTime", existing.end if existing else None)
        if start is not None and end is not None and start >= end:
            raise ValidationError("StartTime must be earlier than EndTime.")
        given = params.get("ScalableTargetAction") or {}
        minimum = given.get("MinCapacity", existing.minimum if existing else None)
        maximum = given.get("MaxCapacity", existing.maximum if existing else None)
        if minimum is None and maximum is None:
            raise ValidationError(
                "ScalableTargetAction must specify MinCapacity, MaxCapacity or both."
            )
        if (minimum is not None and minimum < 0) or (maximum is not None and maximum < 0):
            raise ValidationError("MinCapacity and MaxCapacity must not be negative.")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise ValidationError(
                f"Minimum capacity ({minimum}) cannot be greater than maximum capacity ({maximum})."
            )
        parsed = parse_schedule(schedule, timezone)
        if existing is None and len(self.registry.scheduled_actions(ref)) >= MAX_ACTIONS_PER_TARGET:
            raise LimitExceeded(
                f"A scalable target can have at most {MAX_ACTIONS_PER_TARGET} scheduled actions."
            )
        now = self.ctx.now()
        created = existing.created if existing is not None else now
        last_run = existing.last_run if existing is not None else None
        action = ScheduledAction(
            ref=ref,
            name=name,
            arn=(
                existing.arn
                if existing is not None
                else scheduled_action_arn(self.ctx.partition, ref.resource_id, name)
            ),
            schedule=schedule,
            created=created,
            timezone=timezone,
            start=start,
            end=end,
            minimum=minimum,
            maximum=maximum,
            next_run=parsed.next_run(last_run, created=created, start=start, end=end),
            last_run=last_run,
        )
        self.ctx.store.put(action.to_record(now))
        self.hooks.schedules_changed()
        # AWS answers with nothing; DescribeScheduledActions shows the ARN.
        return {}

    def delete_scheduled_action(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = ref_of(params)
        action = self.registry.scheduled_action(ref, params["ScheduledActionName"])
        if action is None:
            raise action_not_found(ref, params["ScheduledActionName"])
        self.ctx.store.delete(SCHEDULED_KIND, action.key)
        self.hooks.schedules_changed()
        return {}

    def describe_scheduled_actions(self, params: dict[str, Any]) -> dict[str, Any]:
        check_namespace(params["ServiceNamespace"])
        resource_id = params.get("ResourceId")
        dimension = params.get("ScalableDimension")
        check_filter(resource_id, dimension)
        wanted_dimension = parse_dimension(dimension) if dimension is not None else None
        names = set(params["ScheduledActionNames"]) if params.get("ScheduledActionNames") else None
        actions = [
            a
            for a in self.registry.scheduled_actions()
            if (resource_id is None or a.ref.resource_id.lower() == resource_id.lower())
            and (wanted_dimension is None or a.ref.dimension is wanted_dimension)
            and (names is None or a.name in names)
        ]
        result = page(
            "DescribeScheduledActions",
            actions,
            lambda a: [a.created, a.key],
            params,
            most=DESCRIBE_MAX_RESULTS,
        )
        return {
            "ScheduledActions": [a.to_wire() for a in result.items],
            "NextToken": result.next_token,
        }
