"""The scaling activities of one endpoint's variants and components, newest first.

What Application Auto Scaling did (or would have done: not-scaled
activities) to the endpoint's variants and the inference components it
hosts, as DescribeScalingActivities tells it (:mod:`moorage.autoscaling.activities`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from moorage.dashboard.views.sources import Sources

MAX_ACTIVITIES = 20


def scaling_activities(
    sources: Sources, endpoint: str, components: Collection[str]
) -> list[dict[str, Any]]:
    rows = []
    for activity in sources.activities.all(include_not_scaled=True):
        ref = activity.ref
        if ref.endpoint != endpoint and (not ref.component or ref.component not in components):
            continue
        rows.append(
            {
                "resourceId": ref.resource_id,
                "description": activity.description,
                "cause": activity.cause,
                "status": activity.status.value,
                "message": activity.message,
                "started": activity.start,
                "ended": activity.end,
                "notScaled": [n.code.value for n in activity.not_scaled],
            }
        )
        if len(rows) >= MAX_ACTIVITIES:
            break
    return rows
