"""``moorage ls``, ``status`` and ``wait`` through a real server, and its console lines.

One server for the module, whose output (stdout and stderr) the tests read
for the console lines of what they did: creation, failure, a canary update
rolled back by its alarm, a scaling activity.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.archives import failing_model_archive, toolbox_archive
from support.components import (
    component_endpoint,
    create_component,
    wait_component,
    wait_component_gone,
)
from support.endpoints import create_model, delete, variant, wait_in_service
from support.names import unique
from support.rollouts import put_5xx_alarm
from support.server import MoorageServer, running

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoorageServer]:
    with running(tmp_path_factory.mktemp("cli-status")) as srv:
        yield srv


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cli-archives")
    return {
        "v1": toolbox_archive(tmp / "v1.tar.gz", "v1").as_uri(),
        "v2": toolbox_archive(tmp / "v2.tar.gz", "v2").as_uri(),
        "broken": failing_model_archive(tmp / "broken.tar.gz").as_uri(),
    }


def moorage(
    server: MoorageServer, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "moorage"), *args, "--url", server.url, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def console_line(server: MoorageServer, text: str, timeout: float = 60) -> str:
    """The first line of the server's output containing ``text`` (waiting for it)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in list(server.output):
            if text in line:
                return line.rstrip("\n")
        if time.monotonic() > deadline:
            raise AssertionError(f"no line with {text!r} in:\n" + "".join(server.output))
        time.sleep(0.1)


def create(sm: Any, name: str, url: str, count: int = 1) -> None:
    create_model(sm, name, url)
    sm.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[variant("AllTraffic", name, count=count)]
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def test_wait_ls_and_status_follow_a_new_endpoint(
    server: MoorageServer, archives: dict[str, str]
) -> None:
    sm = server.sagemaker
    name = unique("cli")
    create(sm, name, archives["v1"])
    waited = moorage(server, "wait", name, "--timeout", "2m")
    assert waited.returncode == 0, waited.stderr
    lines = waited.stdout.splitlines()
    # Not a terminal: one line per change, the last one InService.
    assert lines[-1].startswith(f"{name}: InService ")
    assert "AllTraffic 1/1 instances" in lines[-1]
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"

    listed = moorage(server, "ls")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:2] == ["NAME", "STATUS"]
    row = next(r for r in rows if r.split()[0] == name)
    assert row.split()[1:4] == ["InService", "AllTraffic", "1/1"]

    status = moorage(server, "status", name)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"endpoint {name}: InService (endpoint config {name}, ")
    assert any(
        line.split()[:4] == ["AllTraffic", "1/1", "1/1", "-"] for line in status.stdout.splitlines()
    ), status.stdout

    assert console_line(server, f"endpoint {name}: Creating (endpoint config {name})")
    assert console_line(server, f"endpoint {name}: InService in ")
    delete(sm, name)
    assert console_line(server, f"endpoint {name}: Deleting")


def test_wait_exits_non_zero_when_the_endpoint_fails(
    server: MoorageServer, archives: dict[str, str]
) -> None:
    sm = server.sagemaker
    name = unique("cli-broken")
    create(sm, name, archives["broken"])
    waited = moorage(server, "wait", name, "--timeout", "2m")
    assert waited.returncode == 1
    assert waited.stderr.startswith(f"moorage wait: endpoint {name} is Failed: ")
    assert "weights are corrupt" in waited.stderr
    failed = console_line(server, f"endpoint {name}: Failed: ")
    assert "weights are corrupt" in failed
    delete(sm, name)


def test_unknown_endpoints_are_one_line_errors(server: MoorageServer) -> None:
    for command in ("wait", "status"):
        done = moorage(server, command, "no-such-endpoint")
        assert done.returncode == 1
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1
        assert "no-such-endpoint" in done.stderr


def test_a_canary_rolled_back_by_its_alarm(server: MoorageServer, archives: dict[str, str]) -> None:
    sm = server.sagemaker
    cloudwatch = server.client("cloudwatch")
    name = unique("cli-canary")
    create(sm, name, archives["v1"], count=2)
    wait_in_service(sm, name)
    create_model(sm, f"{name}-v2", archives["v2"])
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-v2",
        ProductionVariants=[variant("AllTraffic", f"{name}-v2", count=2)],
    )
    alarm = put_5xx_alarm(cloudwatch, name)
    sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-v2",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": 600,
                    "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                }
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
        },
    )
    baking = console_line(server, f"endpoint {name}: baking 600 s after step 2/")
    assert baking.endswith(f"alarms: {alarm}")
    # A bake of ten minutes: wait gives up after its timeout, with status 3.
    waited = moorage(server, "wait", name, "--timeout", "2s")
    assert waited.returncode == 3, waited.stderr
    assert waited.stderr.startswith(f"moorage wait: endpoint {name} is still Updating after ")
    assert f"{name}: Updating " in waited.stdout

    status = moorage(server, "status", name)
    assert status.returncode == 0, status.stderr
    text = status.stdout
    assert f"rollout to endpoint config {name}-v2, started " in text
    assert "Baking" in text
    assert "rollback alarms:" in text
    alarm_row = next(line for line in text.splitlines() if line.startswith(alarm))
    assert alarm_row.split()[1] in ("OK", "INSUFFICIENT_DATA")

    follower = subprocess.Popen(
        [
            str(BIN / "moorage"),
            "wait",
            name,
            "--url",
            server.url,
            "--data-dir",
            str(server.data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Its first line: the follower has seen the update under way (however
        # long the command took to start on a busy machine).
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert f"{name}: Updating " in first, first
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing")
        rest, err = follower.communicate(timeout=120)
        out = first + rest
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 1, (out, err)
    assert err.startswith(f"moorage wait: endpoint {name} rolled back: ")
    assert f'alarm "{alarm}"' in err
    rollback = console_line(server, f"endpoint {name}: rolling back: ")
    assert f'alarm "{alarm}" went into ALARM state' in rollback
    assert console_line(server, f"endpoint {name}: update to endpoint config {name}-v2 rolled back")
    assert not any(f"endpoint {name}: bake passed" in line for line in server.output)
    cloudwatch.delete_alarms(AlarmNames=[alarm])
    delete(sm, name)


def test_a_scaling_activity_is_printed(server: MoorageServer, archives: dict[str, str]) -> None:
    sm = server.sagemaker
    name = unique("cli-scale")
    create(sm, name, archives["v1"])
    wait_in_service(sm, name)
    aas = server.client("application-autoscaling")
    ids = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{name}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    aas.register_scalable_target(**ids, MinCapacity=2, MaxCapacity=3)
    line = console_line(server, f"scaling endpoint/{name}/variant/AllTraffic: ")
    assert "Setting desired instance count to 2." in line
    assert console_line(server, f"scaling endpoint/{name}/variant/AllTraffic: Successful")
    aas.deregister_scalable_target(**ids)
    delete(sm, name)


def test_components_in_status_and_on_the_console(
    server: MoorageServer, archives: dict[str, str]
) -> None:
    sm = server.sagemaker
    name = unique("cli-ic")
    component_endpoint(sm, name)
    create_model(sm, f"{name}-m", archives["v1"])
    create_component(sm, f"{name}-good", name, model=f"{name}-m", copies=2)
    create_model(sm, f"{name}-b", archives["broken"])
    create_component(sm, f"{name}-bad", name, model=f"{name}-b")
    wait_component(sm, f"{name}-good", timeout=120)
    wait_component(sm, f"{name}-bad", "Failed", timeout=120)

    status = moorage(server, "status", name)
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
    assert rows[f"{name}-good"].split()[1:4] == ["AllTraffic", "InService", "2/2"]
    assert rows[f"{name}-bad"].split()[1:3] == ["AllTraffic", "Failed"]
    assert "weights are corrupt" in rows[f"{name}-bad"]

    good = console_line(server, f"inference component {name}-good (endpoint {name}): InService")
    assert good.endswith("2 of 2 copies")
    bad = console_line(server, f"inference component {name}-bad (endpoint {name}): Failed: ")
    assert "weights are corrupt" in bad
    for component in (f"{name}-good", f"{name}-bad"):
        sm.delete_inference_component(InferenceComponentName=component)
        wait_component_gone(sm, component)
    delete(sm, name)
