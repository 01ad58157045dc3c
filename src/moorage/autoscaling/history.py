"""DescribeScalingActivities: the activity log, newest first, filtered and paged."""

from __future__ import annotations

from typing import Any

from moorage.autoscaling.activities import ActivityLog
from moorage.autoscaling.paging import page
from moorage.autoscaling.resources import check_filter, check_namespace, parse_dimension

DESCRIBE_MAX_RESULTS = 50


class ActivitiesService:
    def __init__(self, activities: ActivityLog) -> None:
        self.activities = activities

    def describe_scaling_activities(self, params: dict[str, Any]) -> dict[str, Any]:
        check_namespace(params["ServiceNamespace"])
        resource_id = params.get("ResourceId")
        dimension = params.get("ScalableDimension")
        check_filter(resource_id, dimension)
        wanted_dimension = parse_dimension(dimension) if dimension is not None else None
        found = [
            a
            for a in self.activities.all(
                include_not_scaled=bool(params.get("IncludeNotScaledActivities", False))
            )
            if (resource_id is None or a.ref.resource_id.lower() == resource_id.lower())
            and (wanted_dimension is None or a.ref.dimension is wanted_dimension)
        ]
        result = page(
            "DescribeScalingActivities",
            found,
            lambda a: [-a.start, a.id],
            params,
            most=DESCRIBE_MAX_RESULTS,
        )
        return {
            "ScalingActivities": [a.to_wire() for a in result.items],
            "NextToken": result.next_token,
        }
