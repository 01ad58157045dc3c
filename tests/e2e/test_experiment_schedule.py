"""A scheduled experiment on a server whose clock runs 600 times faster, across a restart.

An hour of the server's clock is six real seconds. The experiment is
scheduled to start three hours after creation and to last an hour; the server
is killed (SIGKILL) while the experiment waits and started again on the same
data dir: the persisted clock and schedule carry on, the experiment starts,
runs, and completes on time, and the endpoint is back on its config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.archives import toolbox_archive
from support.endpoints import create_model, variant, wait_in_service
from support.experiments import create_experiment, wait_experiment
from support.server import MoorageServer

SPEED = ("--clock-speed", "600")
HOUR = 3600.0


def _server_now(sm: Any, probe: str) -> float:
    """The server's clock, read from the creation time of a new resource."""
    sm.create_model(
        ModelName=probe,
        PrimaryContainer={"Image": "probe", "ModelDataUrl": "file:///dev/null"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
    )
    return float(sm.describe_model(ModelName=probe)["CreationTime"].timestamp())


def test_schedule_runs_on_the_server_clock_and_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = MoorageServer(data, extra_args=SPEED).start()
    try:
        sm = server.sagemaker
        create_model(sm, "v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
        create_model(sm, "v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
        sm.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=[variant("P", "v1")])
        sm.create_endpoint(EndpointName="shop", EndpointConfigName="c1")
        wait_in_service(sm, "shop")
        now = _server_now(sm, "probe-1")
        # Three hours ahead (18 real seconds): the kill and restart below fit in
        # that even on a busy machine, so the experiment is still waiting after it.
        start, end = now + 3 * HOUR, now + 4 * HOUR
        create_experiment(
            sm,
            "nightly",
            "shop",
            ("v1", "P"),
            ("v2", "S"),
            20,
            Schedule={"StartTime": start, "EndTime": end},
        )
        wait_experiment(sm, "nightly", "Created", timeout=10)
        assert _server_now(sm, "probe-2") < start
        server.kill9()

        server = MoorageServer(data, extra_args=SPEED).start()
        sm = server.sagemaker
        assert _server_now(sm, "probe-3") > now
        seen: list[str] = []
        running = wait_experiment(sm, "nightly", "Running", timeout=60, seen=seen)
        assert seen[0] == "Created"
        assert "Starting" in seen
        assert running["LastModifiedTime"].timestamp() >= start
        endpoint = sm.describe_endpoint(EndpointName="shop")
        assert endpoint["ShadowProductionVariants"][0]["VariantName"] == "S"
        assert endpoint["ShadowProductionVariants"][0]["CurrentWeight"] == 0.2

        done = wait_experiment(sm, "nightly", "Completed", timeout=60, seen=seen)
        assert seen[-2:] == ["Stopping", "Completed"]
        assert done["CompletionTime"].timestamp() >= end
        assert "StatusReason" not in done
        statuses = {v["VariantName"]: v["Status"] for v in done["ModelVariants"]}
        assert statuses == {"P": "InService", "S": "Deleted"}
        back = sm.describe_endpoint(EndpointName="shop")
        assert back["EndpointConfigName"] == "c1"
        assert "ShadowProductionVariants" not in back
        wait_in_service(sm, "shop")
    finally:
        server.stop()
