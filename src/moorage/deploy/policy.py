"""Deployment policies: a DeploymentConfig parsed and checked against AWS's rules.

Pure: no store, no clock. :func:`parse_policy` turns the wire
``DeploymentConfig`` into a :class:`Policy`; :func:`check_policy` applies
the rules that depend on the endpoint (instance counts, variant names) and
raises :class:`PolicyError` with a message naming the rule.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# AWS's ranges (the service model's min/max are checked earlier by validation).
LINEAR_MIN_PERCENT = 10
LINEAR_MAX_PERCENT = 50
CANARY_MAX_PERCENT = 50
ROLLING_MIN_PERCENT = 5
ROLLING_MAX_PERCENT = 50
DEFAULT_MAX_EXECUTION_S = 28800


class PolicyError(Exception):
    """The deployment configuration breaks one of AWS's rules."""


class Routing(enum.StrEnum):
    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"


class SizeType(enum.StrEnum):
    INSTANCE_COUNT = "INSTANCE_COUNT"
    CAPACITY_PERCENT = "CAPACITY_PERCENT"


@dataclass(frozen=True)
class Size:
    type: SizeType
    value: int

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> Size:
        return cls(SizeType(doc["Type"]), int(doc["Value"]))

    def instances(self, total: int) -> int:
        """This size in instances of a fleet of ``total`` (at least one)."""
        if self.type is SizeType.INSTANCE_COUNT:
            return max(1, min(self.value, total))
        return max(1, min(total, math.floor(total * self.value / 100)))

    def percent_of(self, total: int) -> float:
        if self.type is SizeType.CAPACITY_PERCENT:
            return float(self.value)
        return 100.0 * self.value / total if total else 100.0

    def describe(self) -> str:
        return f"{self.value}%" if self.type is SizeType.CAPACITY_PERCENT else f"{self.value}"


@dataclass(frozen=True)
class BlueGreen:
    routing: Routing
    wait_s: int
    canary: Size | None
    linear: Size | None
    termination_wait_s: int
    max_execution_s: int


@dataclass(frozen=True)
class Rolling:
    batch: Size
    wait_s: int
    max_execution_s: int
    rollback_batch: Size | None


@dataclass(frozen=True)
class Policy:
    update: BlueGreen | Rolling
    alarms: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        if isinstance(self.update, Rolling):
            return "ROLLING"
        return f"BLUE_GREEN/{self.update.routing.value}"


DEFAULT_POLICY = Policy(BlueGreen(Routing.ALL_AT_ONCE, 0, None, None, 0, DEFAULT_MAX_EXECUTION_S))


def parse_policy(config: Mapping[str, Any] | None) -> Policy:
    """The policy of a ``DeploymentConfig`` (None → blue/green, all at once)."""
    if not config:
        return DEFAULT_POLICY
    alarms = tuple(
        str(a["AlarmName"])
        for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
    )
    blue_green = config.get("BlueGreenUpdatePolicy")
    rolling = config.get("RollingUpdatePolicy")
    if blue_green and rolling:
        raise PolicyError(
            "DeploymentConfig may specify either BlueGreenUpdatePolicy or RollingUpdatePolicy, "
            "not both."
        )
    if rolling:
        rollback = rolling.get("RollbackMaximumBatchSize")
        return Policy(
            Rolling(
                batch=Size.parse(rolling["MaximumBatchSize"]),
                wait_s=int(rolling["WaitIntervalInSeconds"]),
                max_execution_s=int(
                    rolling.get("MaximumExecutionTimeoutInSeconds", DEFAULT_MAX_EXECUTION_S)
                ),
                rollback_batch=Size.parse(rollback) if rollback else None,
            ),
            alarms,
        )
    if not blue_green:
        return Policy(DEFAULT_POLICY.update, alarms)
    traffic = blue_green["TrafficRoutingConfiguration"]
    routing = Routing(traffic["Type"])
    canary = traffic.get("CanarySize")
    linear = traffic.get("LinearStepSize")
    if routing is Routing.CANARY and not canary:
        raise PolicyError("CanarySize is required when the traffic routing type is CANARY.")
    if routing is Routing.LINEAR and not linear:
        raise PolicyError("LinearStepSize is required when the traffic routing type is LINEAR.")
    if canary and routing is not Routing.CANARY:
        raise PolicyError("CanarySize may only be given when the traffic routing type is CANARY.")
    if linear and routing is not Routing.LINEAR:
        raise PolicyError(
            "LinearStepSize may only be given when the traffic routing type is LINEAR."
        )
    return Policy(
        BlueGreen(
            routing=routing,
            wait_s=int(traffic.get("WaitIntervalInSeconds", 0)),
            canary=Size.parse(canary) if canary else None,
            linear=Size.parse(linear) if linear else None,
            termination_wait_s=int(blue_green.get("TerminationWaitInSeconds", 0)),
            max_execution_s=int(
                blue_green.get("MaximumExecutionTimeoutInSeconds", DEFAULT_MAX_EXECUTION_S)
            ),
        ),
        alarms,
    )


def check_policy(
    policy: Policy,
    counts: Mapping[str, int],
    *,
    same_variants: bool,
    explicit: bool,
    total_wait_s: float,
) -> None:
    """AWS's rules for ``policy`` against the new fleet's per-variant instance ``counts``.

    ``same_variants``: the old and new configs name the same variants.
    ``explicit``: the caller gave a DeploymentConfig (guardrails).
    ``total_wait_s``: the sum of the waits the policy will make.
    """
    update = policy.update
    if explicit and not same_variants:
        raise PolicyError(
            "Deployment guardrails require the new endpoint configuration to have the same "
            "production variant names as the current one."
        )
    if isinstance(update, Rolling):
        if len(counts) != 1:
            raise PolicyError(
                "RollingUpdatePolicy is not supported for endpoints with multiple production "
                "variants."
            )
        _check_rolling(update, counts)
        timeout = update.max_execution_s
    else:
        _check_blue_green(update, counts)
        timeout = update.max_execution_s
    if total_wait_s >= timeout:
        raise PolicyError(
            f"MaximumExecutionTimeoutInSeconds ({timeout}) must be larger than the total "
            f"waiting time of the deployment ({total_wait_s:g} seconds of "
            "WaitIntervalInSeconds and TerminationWaitInSeconds)."
        )


def _check_blue_green(update: BlueGreen, counts: Mapping[str, int]) -> None:
    for variant, count in counts.items():
        if update.canary is not None:
            percent = update.canary.percent_of(count)
            if percent > CANARY_MAX_PERCENT:
                raise PolicyError(
                    f"CanarySize {update.canary.describe()} is more than {CANARY_MAX_PERCENT}% "
                    f"of the {count} instance(s) of variant {variant}."
                )
        if update.linear is not None:
            percent = update.linear.percent_of(count)
            if not LINEAR_MIN_PERCENT <= percent <= LINEAR_MAX_PERCENT:
                raise PolicyError(
                    f"LinearStepSize {update.linear.describe()} must be between "
                    f"{LINEAR_MIN_PERCENT}% and {LINEAR_MAX_PERCENT}% of the {count} "
                    f"instance(s) of variant {variant}."
                )


def _check_rolling(update: Rolling, counts: Mapping[str, int]) -> None:
    for variant, count in counts.items():
        percent = update.batch.percent_of(count)
        if not ROLLING_MIN_PERCENT <= percent <= ROLLING_MAX_PERCENT:
            raise PolicyError(
                f"MaximumBatchSize {update.batch.describe()} must be between "
                f"{ROLLING_MIN_PERCENT}% and {ROLLING_MAX_PERCENT}% of the {count} instance(s) "
                f"of variant {variant}."
            )
