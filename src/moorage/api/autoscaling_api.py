"""Application Auto Scaling on moorage's port: the operation table and its JSON 1.1 service.

Requests are ``POST /`` with ``X-Amz-Target: AnyScaleFrontendService.<Op>``,
validated by botocore's ``application-autoscaling`` model like every other
service (:class:`~moorage.api.json_protocol.JsonService`). The table below
is explicit; any other operation of the model (GetPredictiveScalingForecast)
answers ``NotImplemented`` (HTTP 501) naming it. The handlers are the
services of :class:`moorage.autoscaling.service.AutoScaling`.
"""

from __future__ import annotations

from moorage.api.app import Routes
from moorage.api.json_protocol import Handler, JsonService
from moorage.autoscaling.service import AutoScaling

APPLICATION_AUTOSCALING = "application-autoscaling"


def autoscaling_handlers(autoscaling: AutoScaling) -> dict[str, Handler]:
    targets = autoscaling.targets
    policies = autoscaling.policies
    scheduled = autoscaling.scheduled
    return {
        "RegisterScalableTarget": targets.register_scalable_target,
        "DeregisterScalableTarget": targets.deregister_scalable_target,
        "DescribeScalableTargets": targets.describe_scalable_targets,
        "PutScalingPolicy": policies.put_scaling_policy,
        "DescribeScalingPolicies": policies.describe_scaling_policies,
        "DeleteScalingPolicy": policies.delete_scaling_policy,
        "DescribeScalingActivities": autoscaling.activities.describe_scaling_activities,
        "PutScheduledAction": scheduled.put_scheduled_action,
        "DescribeScheduledActions": scheduled.describe_scheduled_actions,
        "DeleteScheduledAction": scheduled.delete_scheduled_action,
        "TagResource": targets.tag_resource,
        "UntagResource": targets.untag_resource,
        "ListTagsForResource": targets.list_tags_for_resource,
    }


def autoscaling_service(autoscaling: AutoScaling) -> JsonService:
    return JsonService(
        APPLICATION_AUTOSCALING,
        autoscaling_handlers(autoscaling),
        not_implemented_hint=(
            " moorage implements scalable targets, target tracking and step scaling policies, "
            "scheduled actions, scaling activities and tags for SageMaker (docs/autoscaling.md)."
        ),
    )


def install_autoscaling(routes: Routes, autoscaling: AutoScaling) -> JsonService:
    """Register the Application Auto Scaling service on the port (before the app is built)."""
    service = autoscaling_service(autoscaling)
    routes.add_json_service(service)
    return service
