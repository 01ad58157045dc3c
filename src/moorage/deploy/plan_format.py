"""A planned update as data (JSON) and as a table: what ``moorage plan`` prints.

The worst case counts every wait, and for each step that starts instances
the variant's model download and startup health-check timeouts; the
deployment's MaximumExecutionTimeoutInSeconds caps it (the rollout would be
rolled back then).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.deploy.planning import UpdatePlan
from moorage.domain.endpoint import Endpoint
from moorage.domain.endpoint_config import EndpointConfig


def plan_document(endpoint: Endpoint, config: EndpointConfig, plan: UpdatePlan) -> dict[str, Any]:
    steps = []
    elapsed_best = 0.0
    elapsed_worst = 0.0
    rollout = plan.deployment.rollout
    previous = {v: (count, count, 0) for v, count in rollout.blue_counts.items()}
    for number, step in enumerate(plan.steps, start=1):
        starts = 0.0
        for variant, layout in step.layouts.items():
            before = previous.get(variant, (0, 0, 0))
            if layout.green_target > before[2] or layout.blue_target > before[0]:
                spec = config.variant(variant)
                if spec is not None:
                    starts = max(starts, float(spec.startup_timeout_s + spec.download_timeout_s))
            previous[variant] = (layout.blue_target, layout.blue_active, layout.green_target)
        elapsed_best += step.wait_s
        elapsed_worst += step.wait_s + starts
        steps.append(
            {
                "Step": number,
                "Name": step.name,
                "Variants": {
                    v: {
                        "OldInstances": layout.blue_target,
                        "OldInService": layout.blue_active,
                        "NewInstances": layout.green_target,
                        "NewInService": layout.green_active,
                        "NewTrafficPercent": round(100 * layout.green_share, 2),
                    }
                    for v, layout in step.layouts.items()
                },
                "WaitSeconds": step.wait_s,
                "Bake": step.monitor,
                "StartsInstances": starts > 0,
            }
        )
    return {
        "EndpointName": endpoint.name,
        "CurrentEndpointConfigName": endpoint.config_name,
        "EndpointConfigName": config.name,
        "Policy": plan.policy.kind,
        "Alarms": list(plan.policy.alarms),
        "MaximumExecutionTimeoutInSeconds": rollout.max_execution_s,
        "Steps": steps,
        "WaitSeconds": elapsed_best,
        "WorstCaseSeconds": min(elapsed_worst, rollout.max_execution_s),
    }


def format_plan(doc: Mapping[str, Any]) -> str:
    lines = [
        f"Update of endpoint {doc['EndpointName']}: {doc['CurrentEndpointConfigName']} -> "
        f"{doc['EndpointConfigName']} ({doc['Policy']})",
    ]
    if doc["Alarms"]:
        lines.append("Rollback alarms: " + ", ".join(doc["Alarms"]))
    header = f"{'#':>3}  {'step':<48} {'variant':<16} {'old (in service)':>17} " + (
        f"{'new (in service)':>17} {'new traffic':>11} {'wait':>7}"
    )
    lines += ["", header, "-" * len(header)]
    for step in doc["Steps"]:
        first = True
        for variant, v in step["Variants"].items():
            wait = f"{step['WaitSeconds']:g}s" + (" bake" if step["Bake"] else "")
            lines.append(
                f"{step['Step'] if first else '':>3}  {step['Name'] if first else '':<48} "
                f"{variant:<16} {v['OldInstances']:>7} ({v['OldInService']:>3})     "
                f"{v['NewInstances']:>7} ({v['NewInService']:>3})     "
                f"{v['NewTrafficPercent']:>10g}% {wait if first else '':>7}"
            )
            first = False
    lines += [
        "",
        f"Waits: {doc['WaitSeconds']:g} s. Worst case (waits, downloads and startup "
        f"health checks, capped by MaximumExecutionTimeoutInSeconds "
        f"{doc['MaximumExecutionTimeoutInSeconds']:g} s): {doc['WorstCaseSeconds']:g} s.",
    ]
    return "\n".join(lines)
