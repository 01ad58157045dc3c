"""ServerlessUpdateConfig planned, rolled out and described, without processes.

A serverless endpoint is changed by ``plan_capacities`` and driven to the
end by the rollout driver over a scripted fleet (:mod:`support.rollouts`);
DescribeEndpoint's answer (:func:`moorage.control.endpoints.describe_wire`)
is read at every pass: ``DesiredServerlessConfig`` while the change is on
its way, ``CurrentServerlessConfig`` with the new settings once it is
applied. UpdateEndpoint to a new config replaces the change; its rollback
restores it.
"""

from __future__ import annotations

from typing import Any

import pytest

from moorage.control.endpoints import describe_wire
from moorage.deploy.planning import plan_capacities
from moorage.deploy.policy import PolicyError
from moorage.domain.endpoint import Endpoint, EndpointStatus, Group, VariantState
from moorage.domain.endpoint_config import EndpointConfig, variant_from_spec
from support.rollouts import ARN, T0, ScriptedFleet, Simulation, StepClock, updating

SETTINGS = {"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 2}


def serverless_config(name: str, settings: dict[str, int]) -> EndpointConfig:
    spec = {"VariantName": "AllTraffic", "ModelName": "m", "ServerlessConfig": settings}
    return EndpointConfig(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{name}",
        created=T0,
        variants=(variant_from_spec(spec),),
        shadow_variants=(),
        capture=None,
        execution_role_arn=None,
        spec={"ProductionVariants": [spec]},
    )


BLUE = serverless_config("blue", SETTINGS)


def serving(override: tuple[tuple[str, int], ...] | None = None) -> Endpoint:
    return Endpoint(
        name="shop",
        arn=ARN,
        created=T0,
        modified=T0,
        config_name="blue",
        status=EndpointStatus.IN_SERVICE,
        variants=(VariantState("AllTraffic", 1.0, 1.0, 1, serverless=override),),
        groups=(Group("g1", "blue", "AllTraffic", "serverless", 1, 1, 1.0),),
        next_group=2,
    )


def changed(endpoint: Endpoint, **item: Any) -> Endpoint:
    """What UpdateEndpointWeightsAndCapacities stores."""
    deployment = plan_capacities(
        endpoint, [{"VariantName": "AllTraffic", **item}], now=T0, config=BLUE
    )
    return endpoint.with_changes(
        status=EndpointStatus.UPDATING, deployment=deployment.to_doc(), modified=T0
    )


def shown(endpoint: Endpoint, pending: EndpointConfig | None = None) -> dict[str, Any]:
    (variant,) = describe_wire(endpoint, BLUE, pending)["ProductionVariants"]
    return {k: v for k, v in variant.items() if "Serverless" in k}


def run(endpoint: Endpoint) -> tuple[Simulation, list[dict[str, Any]]]:
    """Drive the change to its end; what DescribeEndpoint showed at every pass."""
    clock = StepClock()
    fleet = ScriptedFleet(clock)
    fleet.running(endpoint)
    sim = Simulation(endpoint, clock, fleet)
    seen = [shown(endpoint)]
    sim.step()
    seen.append(shown(sim.endpoint))
    while sim.endpoint.deployment is not None:
        clock.value += 1
        sim.step()
        seen.append(shown(sim.endpoint))
    assert sim.violations == []
    return sim, seen


def test_the_change_is_desired_then_current_and_merges_with_earlier_ones() -> None:
    wanted = {**SETTINGS, "MaxConcurrency": 8}
    sim, seen = run(changed(serving(), ServerlessUpdateConfig={"MaxConcurrency": 8}))
    assert seen[0] == {"CurrentServerlessConfig": SETTINGS, "DesiredServerlessConfig": wanted}
    assert seen[-1] == {"CurrentServerlessConfig": wanted}
    assert sim.endpoint.status is EndpointStatus.IN_SERVICE
    (variant,) = sim.endpoint.variants
    assert variant.serverless == (("MaxConcurrency", 8),)

    # A later change keeps the earlier one's members; a weight alone keeps both.
    sim, _ = run(changed(sim.endpoint, ServerlessUpdateConfig={"ProvisionedConcurrency": 6}))
    sim, _ = run(changed(sim.endpoint, DesiredWeight=3.0))
    (variant,) = sim.endpoint.variants
    assert variant.serverless == (("MaxConcurrency", 8), ("ProvisionedConcurrency", 6))
    assert variant.weight == 3.0
    assert shown(sim.endpoint) == {
        "CurrentServerlessConfig": {**SETTINGS, "MaxConcurrency": 8, "ProvisionedConcurrency": 6}
    }
    # The state survives its stored form.
    assert VariantState.from_doc(variant.to_doc()) == variant


def test_a_config_without_provisioned_concurrency_gets_one() -> None:
    bare = serverless_config("blue", {"MemorySizeInMB": 1024, "MaxConcurrency": 4})
    endpoint = serving()
    deployment = plan_capacities(
        endpoint,
        [{"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"ProvisionedConcurrency": 4}}],
        now=T0,
        config=bare,
    )
    (variant,) = deployment.new_variants
    assert variant.serverless == (("ProvisionedConcurrency", 4),)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"DesiredInstanceCount": 2}, "is serverless: DesiredInstanceCount cannot be specified"),
        (
            {"ServerlessUpdateConfig": {"MaxConcurrency": 3}},
            'ProvisionedConcurrency (4) of variant "AllTraffic" must be less than or equal to '
            "its MaxConcurrency (3).",
        ),
        ({"ServerlessUpdateConfig": {}}, "must specify MaxConcurrency or ProvisionedConcurrency"),
        ({}, "must specify DesiredWeight, DesiredInstanceCount or ServerlessUpdateConfig"),
    ],
)
def test_refusals(item: dict[str, Any], message: str) -> None:
    endpoint = serving((("ProvisionedConcurrency", 4),))
    with pytest.raises(PolicyError) as caught:
        plan_capacities(endpoint, [{"VariantName": "AllTraffic", **item}], now=T0, config=BLUE)
    assert message in str(caught.value)


def test_a_deleted_config_refuses_a_serverless_change_but_keeps_the_override() -> None:
    endpoint = serving((("ProvisionedConcurrency", 4),))
    with pytest.raises(PolicyError) as caught:
        plan_capacities(
            endpoint,
            [{"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"MaxConcurrency": 9}}],
            now=T0,
            config=None,
        )
    assert 'its endpoint configuration "blue" no longer exists' in str(caught.value)
    deployment = plan_capacities(
        endpoint, [{"VariantName": "AllTraffic", "DesiredWeight": 2.0}], now=T0, config=None
    )
    (variant,) = deployment.new_variants
    assert variant.serverless == (("ProvisionedConcurrency", 4),)


def test_an_instance_variant_takes_no_serverless_update() -> None:
    endpoint = serving().with_changes(
        groups=(Group("g1", "blue", "AllTraffic", "ml.m5.large", 1, 1, 1.0),)
    )
    with pytest.raises(PolicyError) as caught:
        plan_capacities(
            endpoint,
            [{"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"MaxConcurrency": 9}}],
            now=T0,
        )
    assert str(caught.value) == (
        'Variant "AllTraffic" has no ServerlessConfig: ServerlessUpdateConfig applies only to '
        "a serverless variant."
    )


def test_a_new_config_replaces_the_change_and_its_rollback_restores_it() -> None:
    override = (("MaxConcurrency", 9), ("ProvisionedConcurrency", 7))
    green = serverless_config("green", {"MemorySizeInMB": 3072, "MaxConcurrency": 6})
    endpoint = serving(override)
    moving = updating(endpoint, green, None, T0, retain_all=True)
    before = shown(moving, green)
    assert before == {
        "CurrentServerlessConfig": {**SETTINGS, "MaxConcurrency": 9, "ProvisionedConcurrency": 7},
        "DesiredServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 6},
    }
    sim, _ = run(moving)
    (variant,) = sim.endpoint.variants
    assert sim.endpoint.config_name == "green" and variant.serverless is None

    # An update that cannot provision its new fleet rolls back to the old variants.
    clock = StepClock()
    fleet = ScriptedFleet(clock, failing={"g2": "the model server exited"})
    fleet.running(endpoint)
    sim = Simulation(updating(endpoint, green, None, T0), clock, fleet)
    sim.run(600)
    assert sim.endpoint.status is EndpointStatus.IN_SERVICE
    assert sim.endpoint.config_name == "blue"
    (variant,) = sim.endpoint.variants
    assert variant.serverless == override
