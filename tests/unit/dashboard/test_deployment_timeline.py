"""The dashboard's deployment timeline over simulated rollouts: steps, times, outcome, alarms.

The rollout driver runs a canary over a scripted fleet and a clock that
jumps (:mod:`support.rollouts`); the dashboard's history hook watches every
pass as the reconciler would run it, and the timeline is built from what it
kept after the deployment document is gone.
"""

from __future__ import annotations

from typing import Any

from moorage.clock import FakeClock
from moorage.dashboard.deploy_history import DeploymentHistory, Outcome
from moorage.dashboard.views.timeline import timeline
from moorage.domain.endpoint import Endpoint
from moorage.monitoring import AlarmEvaluator, MetricStore
from moorage.monitoring.alarms import AlarmDefinition, StateValue
from support.rollouts import T0, ScriptedFleet, Simulation, StepClock, config, serving, updating

ALARM = "shop-5xx"


def canary(wait: int = 300) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": wait,
            },
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]},
    }


def simulate(deployment_config: dict[str, Any]) -> tuple[Simulation, DeploymentHistory]:
    clock = StepClock()
    endpoint = updating(
        serving(("AllTraffic", 4)),
        config("green", ("AllTraffic", 4)),
        deployment_config,
        clock.now(),
    )
    fleet = ScriptedFleet(clock, 5.0)
    fleet.running(endpoint)
    return Simulation(endpoint, clock, fleet, alarm=ALARM), DeploymentHistory(clock)  # type: ignore[arg-type]


def run(sim: Simulation, history: DeploymentHistory, seconds: float) -> Endpoint:
    """Passes every second, each watched by the history hook after the driver."""
    end = sim.clock.now() + seconds
    history.hook(sim.step(), sim.fleet)
    while sim.endpoint.deployment is not None and sim.clock.now() < end:
        sim.clock.value += 1
        history.hook(sim.step(), sim.fleet)
    return sim.endpoint


def alarms_at(at: float) -> AlarmEvaluator:
    clock = FakeClock(at)
    evaluator = AlarmEvaluator(clock, MetricStore(clock))
    evaluator.put_alarm(
        AlarmDefinition.from_request(
            {
                "AlarmName": ALARM,
                "Namespace": "AWS/SageMaker",
                "MetricName": "Invocation5XXErrors",
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            }
        )
    )
    return evaluator


def states(doc: dict[str, Any], key: str = "steps") -> list[tuple[str, str]]:
    """(name up to its colon, state) of each step."""
    return [(s["name"].split(":")[0], s["state"]) for s in doc[key]]


def test_a_canary_in_progress_then_completed() -> None:
    sim, history = simulate(canary())
    run(sim, history, 10)
    assert sim.endpoint.deployment is not None
    (record,) = history.of(sim.endpoint)
    doc = timeline(record, alarms_at(T0))
    assert doc["outcome"] == "InProgress"
    assert doc["policy"] == "Canary"
    assert states(doc) == [
        ("Provision the new fleet", "done"),
        ("Canary", "current"),
        ("All traffic to the new fleet", "pending"),
        ("Terminate the old fleet", "pending"),
    ]
    current = doc["current"]
    assert current["baking"] is True
    assert current["waitEnds"] == current["since"] + 300
    # The traffic split of each step, as moorage plan prints it.
    (canary_layout,) = doc["steps"][1]["layouts"]
    assert canary_layout["newTrafficPercent"] == 25.0
    assert (canary_layout["oldInService"], canary_layout["newInService"]) == (4, 1)
    assert doc["steps"][0]["started"] == T0
    assert doc["steps"][1]["started"] is not None and doc["steps"][2]["started"] is None

    done = run(sim, history, 1000)
    assert done.deployment is None
    (record,) = history.of(done)
    assert record.outcome is Outcome.COMPLETED
    assert record.finished is not None
    doc = timeline(record, alarms_at(T0))
    assert {state for _, state in states(doc)} == {"done"}
    assert doc["current"] is None and doc["reason"] is None


def test_an_alarm_during_the_bake_rolls_back_and_the_timeline_keeps_it() -> None:
    sim, history = simulate(canary())
    sim.alarm_from = T0 + 100
    evaluator = alarms_at(T0 + 100)
    evaluator.set_alarm_state(ALARM, StateValue.ALARM, "testing")
    done = run(sim, history, 2000)
    assert done.deployment is None and done.config_name == "blue"
    (record,) = history.of(done)
    assert record.outcome is Outcome.ROLLED_BACK
    doc = timeline(record, evaluator)
    assert states(doc) == [
        ("Provision the new fleet", "done"),
        ("Canary", "failed"),
        ("All traffic to the new fleet", "skipped"),
        ("Terminate the old fleet", "skipped"),
    ]
    assert doc["failedAt"] == 1
    assert doc["rollback"] and {state for _, state in states(doc, "rollback")} == {"done"}
    assert all(step["started"] is not None for step in doc["rollback"])
    assert f'alarm "{ALARM}"' in doc["reason"]
    (alarm,) = doc["alarms"]
    assert alarm["name"] == ALARM and alarm["state"] == "ALARM"
    assert [c["summary"] for c in alarm["changes"]] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    ]


def test_a_new_deployment_pushes_the_last_one_down() -> None:
    sim, history = simulate(canary(wait=10))
    done = run(sim, history, 1000)
    again = updating(done, config("blue", ("AllTraffic", 4)), None, sim.clock.now())
    sim.endpoint = again
    sim.fleet.running(again)
    run(sim, history, 1000)
    newest, older = history.of(sim.endpoint)
    assert newest.outcome is Outcome.COMPLETED and older.outcome is Outcome.COMPLETED
    assert newest.deployment["new_config"] == "blue"
    assert older.deployment["new_config"] == "green"
    # Another endpoint of the same name (deleted and created again) starts afresh.
    reborn = sim.endpoint.with_changes(created=sim.endpoint.created + 1)
    assert history.of(reborn) == []
