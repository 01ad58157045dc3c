"""Everything the dashboard reads, handed over by the server at start.

The views read these in-process, as the API handlers do, and change nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from moorage.autoscaling.activities import ActivityLog
from moorage.clock import Clock
from moorage.control.plane import ControlPlane
from moorage.dashboard.deploy_history import DeploymentHistory
from moorage.logs.service import LogsService
from moorage.monitoring import AlarmEvaluator, MetricStore


@dataclass(frozen=True)
class Sources:
    plane: ControlPlane
    metrics: MetricStore
    alarms: AlarmEvaluator
    activities: ActivityLog
    logs: LogsService
    deployments: DeploymentHistory
    clock: Clock
    region: str
    account_id: str


def finite(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded, or None when it is missing or not a finite number."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)
