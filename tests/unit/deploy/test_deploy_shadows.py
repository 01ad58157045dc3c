"""Shadow variants through updates: provisioned with the first step, switched with production."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.deploy.policy import PolicyError
from moorage.deploy.timeline import Fleet, Layout, Step, with_shadows
from moorage.domain.endpoint import Endpoint, EndpointStatus, Group, VariantState
from moorage.domain.endpoint_config import EndpointConfig, variant_from_spec
from support.rollouts import T0, ScriptedFleet, Simulation, StepClock, updating


def _spec(name: str, model: str, count: int, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
    }


def shadow_config(name: str, prod: int = 2, shadow: int | None = 1, weight: float = 0.5) -> Any:
    return EndpointConfig(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{name}",
        created=T0,
        variants=(variant_from_spec(_spec("Prod", f"m-{name}", prod)),),
        shadow_variants=(
            (variant_from_spec(_spec("Shadow", f"s-{name}", shadow, weight)),)
            if shadow is not None
            else ()
        ),
        capture=None,
        execution_role_arn=None,
        spec={},
    )


def serving_with_shadow(prod: int = 2, shadow: int = 1) -> Endpoint:
    return Endpoint(
        name="shop",
        arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/shop",
        created=T0,
        modified=T0,
        config_name="blue",
        status=EndpointStatus.IN_SERVICE,
        variants=(
            VariantState("Prod", 1.0, 1.0, prod),
            VariantState("Shadow", 0.5, 0.5, shadow, shadow=True),
        ),
        groups=(
            Group("g1", "blue", "Prod", "ml.m5.large", prod, prod, 1.0),
            Group("g2", "blue", "Shadow", "ml.m5.large", shadow, shadow, 1.0),
        ),
        next_group=3,
    )


def run(endpoint: Endpoint, deployment_config: Any, new: EndpointConfig) -> Simulation:
    clock = StepClock()
    sim = Simulation(
        updating(endpoint, new, deployment_config, clock.now()), clock, ScriptedFleet(clock)
    )
    sim.run(3600)
    return sim


def test_with_shadows_provisions_first_and_switches_with_production() -> None:
    steps = [
        Step("provision", {"P": Layout(2, 2, 2, 0, 0.0)}, status="Creating"),
        Step("canary", {"P": Layout(2, 2, 2, 1, 0.5)}, 60, True),
        Step("all", {"P": Layout(2, 0, 2, 2, 1.0)}, 60, True, switch=True),
        Step("terminate", {"P": Layout(0, 0, 2, 2, 1.0)}, status="Deleting"),
    ]
    shadowed = with_shadows(steps, {"S": Fleet(1, 3)})
    assert [s.layouts["S"] for s in shadowed] == [
        Layout(1, 1, 3, 0, 0.0),
        Layout(1, 1, 3, 0, 0.0),
        Layout(1, 0, 3, 3, 1.0),
        Layout(0, 0, 3, 3, 1.0),
    ]
    assert [s.layouts["P"] for s in shadowed] == [s.layouts["P"] for s in steps]
    assert with_shadows(steps, {}) == steps


@pytest.mark.parametrize(
    "policy",
    [
        None,
        {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 30,
            }
        },
        {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                    "WaitIntervalInSeconds": 30,
                }
            }
        },
    ],
)
def test_update_keeps_the_shadow_a_shadow_under_every_policy(policy: Any) -> None:
    sim = run(serving_with_shadow(), policy, shadow_config("green", prod=2, shadow=3, weight=0.25))
    final = sim.endpoint
    assert final.status is EndpointStatus.IN_SERVICE
    assert final.config_name == "green"
    assert [(v.name, v.shadow, v.weight) for v in final.variants] == [
        ("Prod", False, 1.0),
        ("Shadow", True, 0.25),
    ]
    shadow_groups = [g for g in final.groups if g.variant == "Shadow"]
    assert [(g.config_name, g.target) for g in shadow_groups] == [("green", 3)]
    # Before the switch the old shadow fleet is the one that is mirrored to.
    for endpoint in sim.history:
        if endpoint.variants == serving_with_shadow().variants:
            live = [g for g in endpoint.groups if g.variant == "Shadow" and g.active and g.share]
            assert {g.config_name for g in live} <= {"blue"}


def test_update_adds_and_removes_a_shadow() -> None:
    plain = serving_with_shadow()
    plain = plain.with_changes(variants=plain.variants[:1], groups=plain.groups[:1], next_group=2)
    added = run(plain, None, shadow_config("green")).endpoint
    assert [v.name for v in added.shadow_variants] == ["Shadow"]
    assert {g.variant for g in added.groups} == {"Prod", "Shadow"}
    removed = run(serving_with_shadow(), None, shadow_config("green", shadow=None)).endpoint
    assert removed.shadow_variants == ()
    assert {g.variant for g in removed.groups} == {"Prod"}


def test_guardrails_count_production_variants_only() -> None:
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 30,
            }
        }
    }
    # A one-instance canary is at most half of the two production instances;
    # the shadow's single instance is not held to the canary rules.
    final = run(serving_with_shadow(prod=2, shadow=1), canary, shadow_config("green")).endpoint
    assert final.config_name == "green"
    with pytest.raises(PolicyError):
        run(serving_with_shadow(prod=1), canary, shadow_config("green", prod=1))


def test_a_failed_shadow_fleet_rolls_the_update_back() -> None:
    clock = StepClock()
    fleet = ScriptedFleet(clock)
    endpoint = updating(serving_with_shadow(), shadow_config("green"), None, clock.now())
    sim = Simulation(endpoint, clock, fleet)
    shadow_green = sim.deployment.fleets["Shadow"].green
    assert shadow_green is not None
    fleet.failing[shadow_green] = "the shadow model is corrupt"
    sim.run(3600)
    assert sim.endpoint.status is EndpointStatus.IN_SERVICE
    assert sim.endpoint.config_name == "blue"
    assert "the shadow model is corrupt" in (sim.endpoint.failure_reason or "")
    assert [(v.name, v.shadow) for v in sim.endpoint.variants] == [
        ("Prod", False),
        ("Shadow", True),
    ]
