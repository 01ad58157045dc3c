"""``GET /ui/api/endpoint?name=E``: one endpoint, all the detail page shows but charts and logs.

The endpoint's row of the list (:mod:`.endpoints`) plus its instance
groups (old and new fleets during an update), the current or last
deployment as a timeline and earlier ones in a line each (:mod:`.timeline`),
its alarms (:mod:`.alarms`), its inference components and their placement
map (:mod:`moorage.control.placement_document`, the document of
``moorage placement``), its shadow tests (:mod:`.experiments`) and its
scaling activities (:mod:`.scaling`). An unknown endpoint is the
``ValidationException`` DescribeEndpoint answers.
"""

from __future__ import annotations

import logging
from typing import Any

from moorage.control.placement_document import placement_document
from moorage.dashboard.views.alarms import endpoint_alarms
from moorage.dashboard.views.endpoints import endpoint_row
from moorage.dashboard.views.experiments import endpoint_experiments
from moorage.dashboard.views.scaling import scaling_activities
from moorage.dashboard.views.sources import Sources, finite
from moorage.dashboard.views.timeline import summary, timeline
from moorage.domain.endpoint import Endpoint
from moorage.domain.inference_component import InferenceComponent
from moorage.errors import ServiceError

log = logging.getLogger(__name__)


def _component(component: InferenceComponent) -> dict[str, Any]:
    return {
        "name": component.name,
        "variant": component.variant,
        "status": component.status.value,
        "base": component.base,
        "desiredCopies": None if component.is_adapter else component.desired_copies,
        "currentCopies": None if component.is_adapter else component.current_copies,
        "failureReason": component.failure_reason,
        "modified": component.modified,
    }


def _placement(sources: Sources, endpoint: Endpoint) -> dict[str, Any] | None:
    try:
        return placement_document(sources.plane.inference_components, endpoint.name)
    except ServiceError:
        return None  # not a component endpoint, or its config is gone


def endpoint_detail(sources: Sources, name: str) -> dict[str, Any]:
    endpoint = sources.plane.endpoints.get(name)
    components = sorted(
        sources.plane.inference_components.on_endpoint(endpoint.name),
        key=lambda c: c.name.lower(),
    )
    component_names = {c.name for c in components}
    records = sources.deployments.of(endpoint)
    rollback_alarms: set[str] = set()
    for record in records:
        rollback_alarms.update(record.deployment.get("rollout", {}).get("alarms", ()))
    now = sources.clock.now()
    return {
        "now": now,
        "endpoint": endpoint_row(sources, endpoint, components, now),
        "groups": [
            {
                "id": g.id,
                "config": g.config_name,
                "variant": g.variant,
                "instanceType": g.instance_type,
                "instances": g.target,
                "inService": g.active,
                "trafficShare": finite(g.share),
            }
            for g in endpoint.groups
        ],
        "deployment": timeline(records[0], sources.alarms) if records else None,
        "earlierDeployments": [summary(r) for r in records[1:]],
        "alarms": endpoint_alarms(sources, endpoint.name, component_names, rollback_alarms),
        "components": [_component(c) for c in components],
        "placement": _placement(sources, endpoint) if components else None,
        "experiments": endpoint_experiments(sources, endpoint.name),
        "scaling": scaling_activities(sources, endpoint.name, component_names),
    }
