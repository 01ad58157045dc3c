"""``GET /ui/api/endpoints``: every endpoint in one small document, for the list page.

One row per endpoint: status, last failure, variants (weights, instance
counts, instance type), the deployment under way, how many inference
components it hosts, and invocations per second over the last minute. It
reads each kind of record once (endpoints, components) and one metric
aggregate per variant or component, so 200 endpoints cost a few
milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.dashboard.views.sources import Sources, finite
from moorage.domain import endpoint as endpoint_domain
from moorage.domain import inference_component as component_domain
from moorage.domain.endpoint import Endpoint, ObservedVariant, VariantState
from moorage.domain.inference_component import InferenceComponent
from moorage.monitoring import MetricKey, MetricStore
from moorage.monitoring.invocation_series import NAMESPACE

RATE_WINDOW_S = 60


def invocation_rate(metrics: MetricStore, dims: Mapping[str, str], now: float) -> float:
    """Invocations per second over the last minute, for one dimension set."""
    key = MetricKey.of(NAMESPACE, "Invocations", dims)
    end = int(now) + 1
    return metrics.aggregate(key, "Count", end - RATE_WINDOW_S, end).count / RATE_WINDOW_S


def variant_row(endpoint: Endpoint, variant: VariantState) -> dict[str, Any]:
    observed = endpoint.observed.get(variant.name, ObservedVariant())
    groups = endpoint.groups_of(variant.name)
    current = [g for g in groups if g.config_name == endpoint.config_name] or list(groups)
    return {
        "name": variant.name,
        "shadow": variant.shadow,
        "weight": finite(variant.weight),
        "desiredWeight": finite(variant.desired_weight),
        "currentCount": observed.current_count,
        "desiredCount": variant.desired_count,
        "instanceType": current[0].instance_type if current else None,
        "statuses": [{"status": s, "message": m, "since": t} for s, m, t in observed.status],
    }


def deployment_summary(endpoint: Endpoint) -> dict[str, Any] | None:
    """Where the deployment under way stands, read from its document without parsing it all."""
    doc = endpoint.deployment
    if doc is None:
        return None
    rollout = doc.get("rollout", {})
    rolling_back = bool(rollout.get("rolling_back"))
    steps = rollout.get("rollback" if rolling_back else "steps") or []
    index = int(rollout.get("step", 0))
    step = steps[min(index, len(steps) - 1)] if steps else {}
    return {
        "kind": rollout.get("kind"),
        "step": index + 1,
        "steps": len(steps),
        "stepName": step.get("name"),
        "phase": rollout.get("phase"),
        "rollingBack": rolling_back,
        "newConfig": doc.get("new_config"),
    }


def endpoint_row(
    sources: Sources,
    endpoint: Endpoint,
    components: list[InferenceComponent],
    now: float,
) -> dict[str, Any]:
    rate = sum(
        invocation_rate(
            sources.metrics, {"EndpointName": endpoint.name, "VariantName": v.name}, now
        )
        for v in endpoint.production_variants
    )
    rate += sum(
        invocation_rate(sources.metrics, {"InferenceComponentName": c.name}, now)
        for c in components
    )
    return {
        "name": endpoint.name,
        "arn": endpoint.arn,
        "status": endpoint.status.value,
        "failureReason": endpoint.failure_reason,
        "config": endpoint.config_name,
        "created": endpoint.created,
        "modified": endpoint.modified,
        "variants": [variant_row(endpoint, v) for v in endpoint.variants],
        "deployment": deployment_summary(endpoint),
        "components": len(components),
        "invocationsPerSecond": finite(rate),
    }


def components_by_endpoint(sources: Sources) -> dict[str, list[InferenceComponent]]:
    found: dict[str, list[InferenceComponent]] = {}
    for record in sources.plane.ctx.store.list_records(component_domain.KIND):
        component = component_domain.component_from_record(record)
        found.setdefault(component.endpoint_name.lower(), []).append(component)
    return found


def endpoint_list(sources: Sources) -> dict[str, Any]:
    store = sources.plane.ctx.store
    now = sources.clock.now()
    endpoints = [
        endpoint_domain.endpoint_from_record(r) for r in store.list_records(endpoint_domain.KIND)
    ]
    endpoints.sort(key=lambda e: e.name.lower())
    components = components_by_endpoint(sources)
    return {
        "now": now,
        "region": sources.region,
        "accountId": sources.account_id,
        "endpoints": [
            endpoint_row(sources, e, components.get(e.name.lower(), []), now) for e in endpoints
        ],
    }
