"""An inference component's DeploymentConfig, parsed and checked against AWS's rules.

Pure. An ``InferenceComponentDeploymentConfig`` has the same parts as an
endpoint's rolling update, counted in copies instead of instances, so it
is parsed into the endpoint rollout engine's :class:`~moorage.deploy.policy.Policy`
(a ``COPY_COUNT`` size counts like an ``INSTANCE_COUNT``) and the timeline
and state machine are shared (:mod:`moorage.deploy.component_rollout`).
Errors are :class:`~moorage.deploy.policy.PolicyError` naming the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.deploy.policy import (
    DEFAULT_MAX_EXECUTION_S,
    ROLLING_MAX_PERCENT,
    ROLLING_MIN_PERCENT,
    Policy,
    PolicyError,
    Rolling,
    Size,
    SizeType,
)

# The shapes' enum for a component's capacity sizes.
COPY_COUNT = "COPY_COUNT"
CAPACITY_PERCENT = "CAPACITY_PERCENT"


def parse_component_policy(config: Mapping[str, Any]) -> Policy:
    """The rolling policy and rollback alarms of an ``InferenceComponentDeploymentConfig``."""
    rolling = config["RollingUpdatePolicy"]
    rollback = rolling.get("RollbackMaximumBatchSize")
    alarms = tuple(
        str(a["AlarmName"])
        for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
    )
    return Policy(
        Rolling(
            batch=_size(rolling["MaximumBatchSize"]),
            wait_s=int(rolling["WaitIntervalInSeconds"]),
            max_execution_s=int(
                rolling.get("MaximumExecutionTimeoutInSeconds", DEFAULT_MAX_EXECUTION_S)
            ),
            rollback_batch=_size(rollback) if rollback else None,
        ),
        alarms,
    )


def _size(doc: Mapping[str, Any]) -> Size:
    kind = str(doc["Type"])
    value = int(doc["Value"])
    return Size(SizeType.INSTANCE_COUNT if kind == COPY_COUNT else SizeType(kind), value)


def describe_size(size: Size) -> str:
    """A size as the caller wrote it: ``COPY_COUNT 2``, ``CAPACITY_PERCENT 25``."""
    kind = CAPACITY_PERCENT if size.type is SizeType.CAPACITY_PERCENT else COPY_COUNT
    return f"{kind} {size.value}"


def check_component_policy(
    policy: Policy, *, component: str, copies: int, total_wait_s: float
) -> None:
    """AWS's rules for rolling ``copies`` copies of ``component`` out with ``policy``."""
    update = policy.update
    assert isinstance(update, Rolling)
    if copies < 1:
        raise PolicyError(
            f"A rolling update of inference component {component} needs at least one copy of "
            "the new specification: RuntimeConfig.CopyCount is 0. Update without a "
            "DeploymentConfig to scale the component to 0 copies."
        )
    percent = update.batch.percent_of(copies)
    if not ROLLING_MIN_PERCENT <= percent <= ROLLING_MAX_PERCENT:
        raise PolicyError(
            f"MaximumBatchSize ({describe_size(update.batch)}) must be between "
            f"{ROLLING_MIN_PERCENT}% and {ROLLING_MAX_PERCENT}% of the copy count of inference "
            f"component {component} ({copies} {'copy' if copies == 1 else 'copies'}); "
            f"it is {percent:g}%."
        )
    rollback = update.rollback_batch
    if (
        rollback is not None
        and rollback.type is SizeType.CAPACITY_PERCENT
        and not 0 < rollback.value <= 100
    ):
        raise PolicyError(
            f"RollbackMaximumBatchSize ({describe_size(rollback)}) must be at most 100% of the "
            "copy count."
        )
    if total_wait_s >= update.max_execution_s:
        raise PolicyError(
            f"MaximumExecutionTimeoutInSeconds ({update.max_execution_s}) must be larger than "
            f"the total waiting time of the deployment ({total_wait_s:g} seconds of "
            "WaitIntervalInSeconds, one per batch)."
        )
