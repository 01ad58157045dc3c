"""The rollout driver over a scripted fleet and a clock that jumps: every policy, every failure."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.deploy.deployment import Deployment
from moorage.deploy.policy import PolicyError
from moorage.deploy.rollout import Phase
from moorage.domain.endpoint import Endpoint, EndpointStatus
from support.rollouts import (
    T0,
    ScriptedFleet,
    Simulation,
    StepClock,
    capacities,
    config,
    serving,
    traffic,
    updating,
)

ALARM = "shop-5xx"


def canary(wait: int = 300, timeout: int = 3600, **extra: Any) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": wait,
            },
            "MaximumExecutionTimeoutInSeconds": timeout,
            **extra,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]},
    }


def rolling(batch: int = 1, wait: int = 60, rollback: int | None = None) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": batch},
        "WaitIntervalInSeconds": wait,
    }
    if rollback is not None:
        policy["RollbackMaximumBatchSize"] = {"Type": "INSTANCE_COUNT", "Value": rollback}
    return {
        "RollingUpdatePolicy": policy,
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]},
    }


def simulate(
    deployment_config: dict[str, Any] | None, blue: int = 4, green: int = 4, start_s: float = 5.0
) -> Simulation:
    clock = StepClock()
    endpoint = updating(
        serving(("AllTraffic", blue)),
        config("green", ("AllTraffic", green)),
        deployment_config,
        clock.now(),
    )
    fleet = ScriptedFleet(clock, start_s)
    fleet.running(endpoint)
    return Simulation(endpoint, clock, fleet, alarm=ALARM)


def assert_served_throughout(sim: Simulation) -> None:
    """At every pass each variant's traffic sat on healthy instances and added up to 1."""
    assert sim.history
    assert sim.violations == []


def only_groups(endpoint: Endpoint) -> list[tuple[str, str, int]]:
    return [(g.id, g.config_name, g.target) for g in endpoint.groups]


def test_all_at_once_without_a_policy() -> None:
    sim = simulate(None)
    sim.step()
    assert sim.endpoint.status is EndpointStatus.UPDATING
    assert sim.deployment.rollout.current.name == "Provision the new fleet"
    # The new fleet is started but takes no traffic until healthy.
    assert traffic(sim.endpoint) == {"AllTraffic": {"g1": 1.0}}
    done = sim.run(60)
    assert done.status is EndpointStatus.IN_SERVICE
    assert done.config_name == "green"
    assert only_groups(done) == [("g2", "green", 4)]
    assert done.last_deployment_config is None
    assert_served_throughout(sim)


def test_canary_bakes_then_moves_the_rest() -> None:
    sim = simulate(canary(wait=300))
    sim.run(10)
    assert sim.deployment.rollout.current.name.startswith("Canary")
    assert sim.phase is Phase.WAITING
    assert traffic(sim.endpoint) == {"AllTraffic": {"g1": 0.75, "g2": 0.25}}
    # The variants still read as the old config's until the switch.
    assert sim.endpoint.variants[0].desired_count == 4
    # The driver asks to be woken when the bake ends (one pass after the canary is healthy).
    assert any(T0 + 305 <= at <= T0 + 307 for at in sim.wakes)
    done = sim.run(1000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "green"
    # Provision 5 s, canary bake 300 s, final bake 300 s.
    # (each step starts one pass after the previous one ends)
    assert done.modified == pytest.approx(T0 + 605, abs=5)
    assert done.last_deployment_config == canary(wait=300)
    assert_served_throughout(sim)


@pytest.mark.parametrize(
    ("alarm_at", "switched"),
    [(100, False), (400, True)],  # during the canary bake, during the final bake
)
def test_alarm_during_a_bake_rolls_back(alarm_at: float, switched: bool) -> None:
    sim = simulate(canary(wait=300))
    sim.alarm_from = T0 + alarm_at
    sim.run(alarm_at - 1)
    assert sim.deployment.rollout.switched is switched
    done = sim.run(1000)
    assert done.status is EndpointStatus.IN_SERVICE
    assert done.config_name == "blue"
    assert only_groups(done) == [("g1", "blue", 4)]
    assert done.failure_reason is not None and f'alarm "{ALARM}"' in done.failure_reason
    # The update's config stays the latest one, for RetainDeploymentConfig to reuse.
    assert done.last_deployment_config == canary(wait=300)
    assert any(e.status is EndpointStatus.ROLLING_BACK for e in sim.history)
    assert_served_throughout(sim)


def test_alarm_after_the_last_bake_is_ignored() -> None:
    doc = canary(wait=100, TerminationWaitInSeconds=200)
    sim = simulate(doc)
    sim.alarm_from = T0 + 250  # during the termination wait, which is not a bake
    done = sim.run(1000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "green"


def test_timeout_rolls_back() -> None:
    sim = simulate(canary(wait=300, timeout=700), start_s=650)
    done = sim.run(2000)
    assert done.config_name == "blue" and done.status is EndpointStatus.IN_SERVICE
    assert done.failure_reason is not None
    assert "MaximumExecutionTimeoutInSeconds (700 seconds)" in done.failure_reason
    assert_served_throughout(sim)


def test_new_fleet_that_cannot_start_rolls_back() -> None:
    sim = simulate(None)
    sim.fleet.failing["g2"] = "ping did not pass within 600 seconds"
    done = sim.run(60)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "blue"
    assert done.failure_reason is not None
    assert "could not be provisioned" in done.failure_reason
    assert "ping did not pass within 600 seconds" in done.failure_reason
    assert only_groups(done) == [("g1", "blue", 4)]


def test_rolling_replaces_batch_by_batch() -> None:
    sim = simulate(rolling(batch=1, wait=60), blue=3, green=3)
    done = sim.run(2000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "green"
    assert only_groups(done) == [("g2", "green", 3)]
    # Never more than one extra instance.
    for endpoint in sim.history:
        assert sum(g.target for g in endpoint.groups) <= 4
    assert_served_throughout(sim)


def test_rolling_rollback_in_batches() -> None:
    sim = simulate(rolling(batch=1, wait=60, rollback=1), blue=3, green=3)
    sim.alarm_from = T0 + 150  # during the second batch's bake
    done = sim.run(2000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "blue"
    assert only_groups(done) == [("g1", "blue", 3)]
    for endpoint in sim.history:
        assert sum(g.target for g in endpoint.groups) <= 4
    assert_served_throughout(sim)


def test_rollback_that_cannot_restore_the_old_fleet() -> None:
    sim = simulate(rolling(batch=1, wait=60), blue=3, green=3)
    sim.alarm_from = T0 + 150
    sim.run(149)
    # Old instances were retired; restoring them now fails.
    assert sim.endpoint.groups[0].target < 3
    sim.fleet.failing["g1"] = "out of capacity"
    done = sim.run(600)
    assert done.status is EndpointStatus.UPDATE_ROLLBACK_FAILED
    assert done.deployment is None
    assert done.failure_reason is not None
    assert f'alarm "{ALARM}"' in done.failure_reason
    assert "The rollback failed too: out of capacity" in done.failure_reason


def test_restart_resumes_and_bakes_again() -> None:
    sim = simulate(canary(wait=300))
    sim.run(200)
    stored = sim.endpoint.deployment
    assert stored is not None and sim.phase is Phase.WAITING
    assert Deployment.from_doc(stored).to_doc() == stored
    # A new server: same stored endpoint, a new driver, time has passed.
    sim.restart()
    sim.clock.value += 50
    sim.step()
    assert sim.phase is Phase.WAITING
    # The canary bake started over at the restart, so it ends 300 s after it.
    assert sim.deployment.rollout.since == T0 + 250
    done = sim.run(1000)
    assert done.config_name == "green"
    assert done.modified == pytest.approx(T0 + 250 + 300 + 300, abs=2)


def test_capacity_change_drains_before_stopping() -> None:
    clock = StepClock()
    endpoint = capacities(
        serving(("AllTraffic", 4)),
        [{"VariantName": "AllTraffic", "DesiredInstanceCount": 2, "DesiredWeight": 3.0}],
        clock.now(),
    )
    fleet = ScriptedFleet(clock, 0.0)
    fleet.running(endpoint)
    sim = Simulation(endpoint, clock, fleet)
    sim.step()
    shrinking = [e for e in sim.history if e.groups[0].target == 4 and e.groups[0].active == 2]
    assert shrinking, "instances leave traffic before they stop"
    done = sim.run(10)
    assert done.status is EndpointStatus.IN_SERVICE
    assert only_groups(done) == [("g1", "blue", 2)]
    assert (done.variants[0].desired_count, done.variants[0].weight) == (2, 3.0)


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        (
            [{"VariantName": "AllTraffic", "DesiredWeight": 1}] * 2,
            'The variant name "AllTraffic" appears more than once.',
        ),
        (
            [{"VariantName": "nope", "DesiredWeight": 1}],
            'The variant name(s) "nope" is/are not present',
        ),
        (
            [{"VariantName": "AllTraffic"}],
            "must specify DesiredWeight, DesiredInstanceCount or ServerlessUpdateConfig",
        ),
    ],
)
def test_capacity_errors(desired: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(PolicyError) as info:
        capacities(serving(("AllTraffic", 2)), desired, T0)
    assert message in str(info.value)


def test_retained_properties() -> None:
    endpoint = serving(("AllTraffic", 4))
    new = config("green", ("AllTraffic", 2), weight=5.0)
    kept = Deployment.from_doc(
        updating(endpoint, new, None, T0, retain_all=True).deployment or {}
    ).new_variants[0]
    assert (kept.desired_count, kept.weight) == (4, 1.0)
    taken = Deployment.from_doc(
        updating(
            endpoint, new, None, T0, retain_all=True, exclude=("DesiredInstanceCount",)
        ).deployment
        or {}
    ).new_variants[0]
    assert (taken.desired_count, taken.weight) == (2, 1.0)


@pytest.mark.parametrize("restart_at", [0, 3, 100, 400, 650, 700])
@pytest.mark.parametrize("policy", ["canary", "rolling"])
def test_restart_at_any_phase_still_completes(restart_at: float, policy: str) -> None:
    doc = canary(wait=300, TerminationWaitInSeconds=60) if policy == "canary" else rolling()
    sim = simulate(doc, blue=2, green=2)
    sim.run(restart_at)
    before = sim.endpoint
    sim.restart()
    sim.fleet.running(before)  # the new server's processes came back healthy
    done = sim.run(3000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "green"
    assert only_groups(done) == [("g2", "green", 2)]
    assert_served_throughout(sim)


@pytest.mark.parametrize("restart_at", [3, 100, 400])
def test_restart_while_rolling_back_still_restores(restart_at: float) -> None:
    sim = simulate(rolling(batch=1, wait=60))
    sim.alarm_from = T0 + 70
    sim.run(70 + restart_at / 10)
    sim.restart()
    done = sim.run(3000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "blue"
    assert only_groups(done) == [("g1", "blue", 4)]
    assert_served_throughout(sim)
