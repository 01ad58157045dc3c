"""An endpoint's shadow tests (inference experiments), production and shadow side by side.

For each experiment on the endpoint: its status, schedule and sampling, and
for its production and its shadow variant the model, the instances and the
invocation figures of the last :data:`STATS_WINDOW_S` seconds
(:func:`~moorage.dashboard.views.metrics.window_stats`), so the two can be
compared at a glance.
"""

from __future__ import annotations

from typing import Any

from moorage.dashboard.views.metrics import window_stats
from moorage.dashboard.views.sources import Sources
from moorage.domain import inference_experiment as experiment_domain
from moorage.domain.inference_experiment import Experiment, ModelVariant

STATS_WINDOW_S = 300


def _side(
    sources: Sources, experiment: Experiment, variant: ModelVariant, role: str, now: int
) -> dict[str, Any]:
    dims = {"EndpointName": experiment.endpoint_name, "VariantName": variant.variant_name}
    status = experiment.variant_status.get(variant.variant_name)
    return {
        "role": role,
        "variant": variant.variant_name,
        "model": variant.model_name,
        "instanceType": variant.instance_type,
        "instanceCount": variant.instance_count,
        "status": status.value if status is not None else None,
        "stats": window_stats(sources.metrics, dims, now - STATS_WINDOW_S, now),
    }


def endpoint_experiments(sources: Sources, endpoint: str) -> list[dict[str, Any]]:
    now = int(sources.clock.now()) + 1
    found = [
        experiment_domain.experiment_from_record(r)
        for r in sources.plane.ctx.store.list_records(experiment_domain.KIND)
    ]
    rows = []
    for experiment in sorted(found, key=lambda e: e.created, reverse=True):
        if experiment.endpoint_name != endpoint:
            continue
        rows.append(
            {
                "name": experiment.name,
                "status": experiment.status.value,
                "reason": experiment.status_reason,
                "start": experiment.start,
                "end": experiment.end,
                "samplingPercentage": experiment.sampling_percentage,
                "statsWindowSeconds": STATS_WINDOW_S,
                "variants": [
                    _side(sources, experiment, experiment.source, "production", now),
                    _side(sources, experiment, experiment.shadow, "shadow", now),
                ],
            }
        )
    return rows
