"""Console lines for endpoint lifecycle events, from rollouts driven over a scripted fleet."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from moorage import console
from moorage.deploy.console_events import ConsoleEvents
from moorage.domain.endpoint import Endpoint, EndpointStatus
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


def watched(deployment_config: dict[str, Any] | None) -> tuple[Simulation, list[str]]:
    clock = StepClock()
    endpoint = updating(
        serving(("AllTraffic", 2)), config("green", ("AllTraffic", 2)), deployment_config, T0
    )
    fleet = ScriptedFleet(clock, 5.0)
    fleet.running(endpoint)
    return Simulation(endpoint, clock, fleet, alarm=ALARM), []


def run(sim: Simulation, lines: list[str], seconds: float) -> Endpoint:
    """Passes every second, the console hook after the driver as the server runs them."""
    events = ConsoleEvents(lines.append)
    # Seen serving before the update, as the server saw it.
    before_update = sim.endpoint.with_changes(deployment=None, status=EndpointStatus.IN_SERVICE)
    events.hook(before_update, sim.fleet)
    end = sim.clock.now() + seconds
    events.hook(sim.step(), sim.fleet)
    while sim.endpoint.deployment is not None and sim.clock.now() < end:
        sim.clock.value += 1
        events.hook(sim.step(), sim.fleet)
    return sim.endpoint


def test_a_canary_update_prints_each_step_its_bakes_and_its_end() -> None:
    sim, lines = watched(canary(wait=300))
    done = run(sim, lines, 1000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "green"
    assert lines[0] == "endpoint shop: update to endpoint config green started (4 steps)"
    assert any(line.startswith("endpoint shop: step 2/4 (Canary") for line in lines)
    bakes = [line for line in lines if "baking 300 s after step" in line]
    assert len(bakes) == 2 and all(line.endswith(f"alarms: {ALARM}") for line in bakes)
    assert sum("bake passed after step" in line for line in lines) == 2
    assert lines[-1].startswith("endpoint shop: update to endpoint config green complete in 6")
    assert lines[-1].endswith("; InService")
    assert not any("rolling back" in line for line in lines)


def test_an_alarm_during_the_canary_bake_prints_the_rollback_and_the_alarm() -> None:
    sim, lines = watched(canary(wait=300))
    sim.alarm_from = T0 + 100
    done = run(sim, lines, 1000)
    assert done.status is EndpointStatus.IN_SERVICE and done.config_name == "blue"
    rollbacks = [line for line in lines if line.startswith("endpoint shop: rolling back: ")]
    assert len(rollbacks) == 1 and f'alarm "{ALARM}" went into ALARM' in rollbacks[0]
    assert not any("bake passed" in line for line in lines)
    assert any(line.startswith("endpoint shop: rollback step 1/") for line in lines)
    assert lines[-1].startswith("endpoint shop: update to endpoint config green rolled back to ")
    assert "endpoint config blue in " in lines[-1]
    # In order: the canary's bake, then the rollback, then its end.
    order = [
        next(i for i, line in enumerate(lines) if "baking" in line),
        lines.index(rollbacks[0]),
        len(lines) - 1,
    ]
    assert order == sorted(order)


def test_a_new_fleet_that_cannot_start_prints_why_it_rolled_back() -> None:
    sim, lines = watched(None)
    green = sim.deployment.fleets["AllTraffic"].green
    assert green is not None
    sim.fleet.failing[green] = "exit status 3: no module named joblib"
    run(sim, lines, 100)
    rollback = next(line for line in lines if "rolling back:" in line)
    assert "no module named joblib" in rollback


def endpoint(status: EndpointStatus, **changes: Any) -> Endpoint:
    return serving(("AllTraffic", 1)).with_changes(status=status, **changes)


def test_creation_prints_creating_then_in_service_with_its_duration() -> None:
    lines: list[str] = []
    events = ConsoleEvents(lines.append)
    events.hook(endpoint(EndpointStatus.CREATING), None)  # type: ignore[arg-type]
    events.hook(endpoint(EndpointStatus.CREATING), None)  # type: ignore[arg-type]
    events.hook(endpoint(EndpointStatus.IN_SERVICE, modified=T0 + 4.25), None)  # type: ignore[arg-type]
    events.hook(endpoint(EndpointStatus.IN_SERVICE, modified=T0 + 4.25), None)  # type: ignore[arg-type]
    assert lines == [
        "endpoint shop: Creating (endpoint config blue)",
        "endpoint shop: InService in 4.2 s",
    ]


def test_a_failed_creation_prints_its_reason_once() -> None:
    lines: list[str] = []
    events = ConsoleEvents(lines.append)
    events.hook(endpoint(EndpointStatus.CREATING), None)  # type: ignore[arg-type]
    failed = endpoint(EndpointStatus.FAILED, failure_reason="model artifact does not exist")
    events.hook(failed, None)  # type: ignore[arg-type]
    events.hook(failed, None)  # type: ignore[arg-type]
    assert lines[1:] == ["endpoint shop: Failed: model artifact does not exist"]


def test_endpoints_found_serving_at_start_print_nothing() -> None:
    lines: list[str] = []
    events = ConsoleEvents(lines.append)
    events.hook(endpoint(EndpointStatus.IN_SERVICE), None)  # type: ignore[arg-type]
    assert lines == []


@pytest.mark.parametrize(("level", "printed"), [(logging.INFO, True), (logging.WARNING, False)])
def test_the_log_level_decides_whether_events_are_printed(
    level: int, printed: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    console.configure(level, sys.stdout)
    try:
        console.event("endpoint shop: InService in 1.0 s")
    finally:
        console.configure(logging.INFO, sys.stderr)
    out = capsys.readouterr().out
    assert ("endpoint shop: InService in 1.0 s" in out) is printed


def test_a_deployment_under_way_at_first_sight_is_resumed() -> None:
    sim, lines = watched(canary(wait=300))
    events = ConsoleEvents(lines.append)
    events.hook(sim.step(), sim.fleet)
    assert lines[0] == "endpoint shop: update to endpoint config green resumed (4 steps)"
