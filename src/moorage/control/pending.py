"""DescribeEndpoint's PendingDeploymentSummary, read from the deployment in progress."""

from __future__ import annotations

from typing import Any

from moorage.control.serverless_wire import add_pending_serverless
from moorage.deploy.deployment import Deployment
from moorage.deploy.rollout import Phase
from moorage.domain.endpoint import Endpoint
from moorage.domain.endpoint_config import EndpointConfig


def variant_status(deployment: Deployment) -> tuple[str, str, float]:
    """(VariantStatus, StatusMessage, StartTime) of the step under way."""
    rollout = deployment.rollout
    step = rollout.current
    if rollout.phase is Phase.WAITING and step.monitor:
        status = "Baking"
    elif rollout.phase is Phase.WAITING:
        status = "ActivatingTraffic" if step.switch else step.status
    else:
        status = step.status
    prefix = "Rolling back: " if rollout.rolling_back else ""
    return status, f"{prefix}{step.name}", rollout.since


def pending_config_name(endpoint: Endpoint) -> str | None:
    """The endpoint config an UpdateEndpoint under way moves the endpoint to, if any."""
    if endpoint.deployment is None:
        return None
    deployment = Deployment.from_doc(endpoint.deployment)
    return deployment.new_config if deployment.rollout.kind == "update" else None


def pending_summary(
    endpoint: Endpoint, new_config: EndpointConfig | None = None
) -> dict[str, Any] | None:
    """``PendingDeploymentSummary``; ``new_config`` (the one moved to) adds serverless members."""
    if endpoint.deployment is None:
        return None
    deployment = Deployment.from_doc(endpoint.deployment)
    if deployment.rollout.kind != "update":
        return None
    status, message, since = variant_status(deployment)
    layouts = deployment.rollout.current.layouts
    variants: list[dict[str, Any]] = []
    shadows: list[dict[str, Any]] = []
    for variant in deployment.new_variants:
        layout = layouts.get(variant.name)
        ids = deployment.fleets.get(variant.name)
        entry: dict[str, Any] = {
            "VariantName": variant.name,
            "CurrentWeight": variant.weight * (layout.green_share if layout else 0.0),
            "DesiredWeight": variant.desired_weight,
            "CurrentInstanceCount": layout.green_active if layout else 0,
            "DesiredInstanceCount": variant.desired_count,
            "InstanceType": ids.green_type if ids and ids.green_type != "serverless" else None,
            "VariantStatus": [{"Status": status, "StatusMessage": message, "StartTime": since}],
        }
        add_pending_serverless(
            entry,
            new_config.variant(variant.name) if new_config else None,
            serving=bool(layout and layout.green_active and layout.green_share),
            override=variant.serverless,
        )
        (shadows if variant.shadow else variants).append(entry)
    return {
        "EndpointConfigName": deployment.new_config,
        "ProductionVariants": variants,
        "ShadowProductionVariants": shadows or None,
        "StartTime": deployment.rollout.started,
    }
