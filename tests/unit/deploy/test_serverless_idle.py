"""When a serverless variant's copy runs: created or updated, in use, kept warm, idle."""

from __future__ import annotations

from moorage.deploy.serverless import ServerlessFleet
from moorage.domain.endpoint import Endpoint, EndpointStatus, Group
from moorage.domain.serverless import ServerlessSettings

GROUP = Group("g1", "cfg", "AllTraffic", "serverless", target=1, active=1, share=1.0)
COLD = ServerlessSettings(memory_mb=2048, max_concurrency=4)
WARM = ServerlessSettings(memory_mb=2048, max_concurrency=4, provisioned_concurrency=1)


def endpoint(status: EndpointStatus) -> Endpoint:
    return Endpoint("sls", "arn:sls", 0.0, 0.0, "cfg", status, groups=(GROUP,))


def test_a_copy_runs_from_creation_until_idle_then_again_on_demand() -> None:
    pokes: list[int] = []
    fleet = ServerlessFleet(lambda: pokes.append(1), idle_s=60.0)
    assert fleet.wanted(endpoint(EndpointStatus.CREATING), GROUP, COLD, 100.0) == (1, 160.0)
    serving = endpoint(EndpointStatus.IN_SERVICE)
    assert fleet.wanted(serving, GROUP, COLD, 150.0) == (1, 160.0)
    assert fleet.wanted(serving, GROUP, COLD, 160.0) == (0, None)
    # A request is admitted (the data plane counts it and wakes the fleet).
    gate = fleet.gate("sls", "AllTraffic", COLD)
    gate.admitted += 1
    gate.wake()
    assert pokes == [1]
    assert fleet.wanted(serving, GROUP, COLD, 200.0) == (1, 260.0)
    # A long request in flight keeps it warm past the idle period.
    gate.inflight = 1
    assert fleet.wanted(serving, GROUP, COLD, 300.0) == (1, 360.0)
    gate.inflight = 0
    assert fleet.wanted(serving, GROUP, COLD, 360.0) == (0, None)


def test_provisioned_concurrency_keeps_it_warm_and_max_concurrency_follows_updates() -> None:
    fleet = ServerlessFleet(lambda: None, idle_s=60.0)
    serving = endpoint(EndpointStatus.IN_SERVICE)
    assert fleet.wanted(serving, GROUP, WARM, 10_000.0) == (1, None)
    gate = fleet.gate("SLS", "AllTraffic", COLD)
    assert gate is fleet.gate("sls", "AllTraffic", WARM)
    assert gate.max_concurrency == 4
    fleet.gate("sls", "AllTraffic", ServerlessSettings(2048, 9))
    assert gate.max_concurrency == 9
    fleet.forget("Sls")
    assert fleet.gate("sls", "AllTraffic", COLD) is not gate
