"""Rollouts without processes: an endpoint, a fleet that obeys, a clock that jumps.

:class:`Simulation` holds an endpoint with a deployment and drives it
through :class:`~moorage.deploy.driver.RolloutDriver` the way the reconciler
does: every pass hands the driver the endpoint and a fleet view, then stores
what it returned. The :class:`ScriptedFleet` reports instances healthy after
``start_s`` seconds, or failing for the groups told to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moorage.deploy.deployment import Deployment
from moorage.deploy.driver import RolloutDriver
from moorage.deploy.planning import plan_capacities, plan_update
from moorage.deploy.rollout import Phase
from moorage.domain.endpoint import Endpoint, EndpointStatus, Group, VariantState
from moorage.domain.endpoint_config import EndpointConfig, variant_from_spec

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/shop"
T0 = 1_800_000_000.0


class StepClock:
    def __init__(self, start: float = T0) -> None:
        self.value = start

    def now(self) -> float:
        return self.value

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - never awaited here
        self.value += seconds


def config(name: str, *variants: tuple[str, int], weight: float = 1.0) -> EndpointConfig:
    specs = tuple(
        variant_from_spec(
            {
                "VariantName": variant,
                "ModelName": f"model-{name}",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": count,
                "InitialVariantWeight": weight,
            }
        )
        for variant, count in variants
    )
    return EndpointConfig(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{name}",
        created=T0,
        variants=specs,
        shadow_variants=(),
        capture=None,
        execution_role_arn=None,
        spec={},
    )


def serving(*variants: tuple[str, int], config_name: str = "blue") -> Endpoint:
    """An InService endpoint with one group per variant."""
    groups = tuple(
        Group(f"g{i}", config_name, name, "ml.m5.large", count, count, 1.0)
        for i, (name, count) in enumerate(variants, start=1)
    )
    return Endpoint(
        name="shop",
        arn=ARN,
        created=T0,
        modified=T0,
        config_name=config_name,
        status=EndpointStatus.IN_SERVICE,
        variants=tuple(VariantState(name, 1.0, 1.0, count) for name, count in variants),
        groups=groups,
        next_group=len(groups) + 1,
    )


def updating(
    endpoint: Endpoint,
    new: EndpointConfig,
    deployment_config: Mapping[str, Any] | None,
    now: float,
    **options: Any,
) -> Endpoint:
    """What UpdateEndpoint stores."""
    plan = plan_update(endpoint, new, deployment_config=deployment_config, now=now, **options)
    return plan.started(endpoint, now)


def capacities(endpoint: Endpoint, desired: list[dict[str, Any]], now: float) -> Endpoint:
    """What UpdateEndpointWeightsAndCapacities stores."""
    deployment = plan_capacities(endpoint, desired, now=now)
    return endpoint.with_changes(
        status=EndpointStatus.UPDATING, deployment=deployment.to_doc(), modified=now
    )


@dataclass
class ScriptedFleet:
    """Each instance becomes healthy ``start_s`` after a group first asks for it.

    A group's instances are numbered; asking for more of them starts the new
    ones. Groups named in ``failing`` never become healthy and report why.
    """

    clock: StepClock
    start_s: float = 5.0
    failing: dict[str, str] = field(default_factory=dict)  # group id → reason
    started: dict[str, list[float]] = field(default_factory=dict)

    def running(self, endpoint: Endpoint) -> None:
        """The endpoint's current instances have been healthy all along."""
        for group in endpoint.groups:
            self.started[group.id] = [float("-inf")] * group.target

    def ready(self, group_id: str, target: int) -> int:
        if group_id in self.failing:
            return 0
        times = self.started.setdefault(group_id, [])
        times.extend([self.clock.now()] * (target - len(times)))
        return sum(1 for t in times[:target] if self.clock.now() >= t + self.start_s)

    def failure(self, group_id: str, target: int) -> str | None:
        return self.failing.get(group_id)


@dataclass
class Simulation:
    endpoint: Endpoint
    clock: StepClock
    fleet: ScriptedFleet
    alarm: str | None = None
    alarm_from: float = float("inf")
    history: list[Endpoint] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    wakes: list[float] = field(default_factory=list)
    driver: RolloutDriver = field(init=False)

    def __post_init__(self) -> None:
        self.driver = self.new_driver()

    def new_driver(self) -> RolloutDriver:
        """A driver as a freshly started server builds it."""
        return RolloutDriver(self.clock, alarms=self._alarms, schedule=self.wakes.append)

    def _alarms(self, names: Any) -> str | None:
        if self.alarm in names and self.clock.now() >= self.alarm_from:
            return self.alarm
        return None

    def restart(self) -> None:
        self.driver = self.new_driver()

    def step(self) -> Endpoint:
        self.endpoint = self.driver.hook(self.endpoint, self.fleet)
        self.history.append(self.endpoint)
        self.violations.extend(self._unserved(self.endpoint))
        return self.endpoint

    def _unserved(self, endpoint: Endpoint) -> list[str]:
        """How this pass's traffic split breaks the rules, if it does.

        Each variant's traffic must add up to 1 and sit on groups whose
        active instances are healthy now; every variant must be served.
        """
        found: list[str] = []
        for variant, shares in traffic(endpoint).items():
            if abs(sum(shares.values()) - 1.0) > 1e-9:
                found.append(f"{variant}: shares {shares}")
            for group in endpoint.groups:
                if group.id in shares and self.fleet.ready(group.id, group.target) < group.active:
                    found.append(f"{group} takes traffic before its instances are healthy")
        served = {g.variant for g in endpoint.groups if g.active and g.share}
        if served != {v.name for v in endpoint.variants}:
            found.append(f"variants {endpoint.variants} served by {endpoint.groups}")
        return found

    def run(self, seconds: float, tick: float = 1.0) -> Endpoint:
        """Passes every ``tick`` seconds for ``seconds`` (or until the deployment ends)."""
        end = self.clock.now() + seconds
        self.step()
        while self.endpoint.deployment is not None and self.clock.now() < end:
            self.clock.value += tick
            self.step()
        return self.endpoint

    @property
    def deployment(self) -> Deployment:
        assert self.endpoint.deployment is not None
        return Deployment.from_doc(self.endpoint.deployment)

    @property
    def phase(self) -> Phase:
        return self.deployment.rollout.phase


def traffic(endpoint: Endpoint) -> dict[str, dict[str, float]]:
    """variant → group id → share of the variant's traffic, for groups taking traffic."""
    found: dict[str, dict[str, float]] = {}
    for group in endpoint.groups:
        if group.active > 0 and group.share > 0:
            found.setdefault(group.variant, {})[group.id] = group.share
    return found


def put_5xx_alarm(cloudwatch: Any, endpoint: str, variant: str = "AllTraffic") -> str:
    """An alarm on the variant's Invocation5XXErrors (one in a 10 s period); its name."""
    alarm = f"{endpoint}-errors"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ],
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    return alarm


def canary_config(alarm: str, bake_s: int, **policy: Any) -> dict[str, Any]:
    """A DeploymentConfig: a one-instance canary baked ``bake_s``, rolled back on ``alarm``."""
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": bake_s,
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            },
            **policy,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
    }
