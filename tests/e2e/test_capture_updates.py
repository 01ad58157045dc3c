"""Data capture during a blue/green update: each fleet captures as its own config says.

The endpoint moves, by a canary deployment under constant traffic, from a
config whose *mirror* model answers with tag ``A`` and captures to one
folder, to a config whose model answers with tag ``B`` and captures to
another. Every answered request must be in exactly one folder: the one of
the config whose fleet answered it, as its tag shows.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from moorage.capture import read_capture
from support.capture import data_capture_config, mirror_archive
from support.endpoints import create_model, variant, wait_in_service
from support.server import running

CANARY = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "WaitIntervalInSeconds": 2,
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
        },
        "TerminationWaitInSeconds": 1,
    }
}


class Traffic(threading.Thread):
    """Requests one after another, each with its own InferenceId; remembers who answered."""

    def __init__(self, runtime: Any, name: str) -> None:
        super().__init__(daemon=True)
        self.runtime = runtime
        self.name_ = name
        self.answers: dict[str, str] = {}  # inference id → tag, in answering order
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            iid = f"u-{n}"
            n += 1
            try:
                answer = self.runtime.invoke_endpoint(
                    EndpointName=self.name_,
                    ContentType="application/json",
                    Body=json.dumps({"n": n}),
                    InferenceId=iid,
                )
                self.answers[iid] = json.loads(answer["Body"].read())["tag"]
            except Exception as exc:  # reported by the test
                self.errors.append(repr(exc))
            time.sleep(0.01)


def test_each_fleet_captures_with_its_own_config(tmp_path: Path) -> None:
    folders = {"A": tmp_path / "capture-a", "B": tmp_path / "capture-b"}
    with running(tmp_path / "data", extra_args=("--capture-flush-interval", "0.5")) as server:
        sm, runtime = server.sagemaker, server.client("sagemaker-runtime")
        for tag, folder in folders.items():
            create_model(
                sm, f"mirror-{tag}", mirror_archive(tmp_path / f"{tag}.tar.gz", tag).as_uri()
            )
            sm.create_endpoint_config(
                EndpointConfigName=f"cfg-{tag}",
                ProductionVariants=[variant("AllTraffic", f"mirror-{tag}", count=2)],
                DataCaptureConfig=data_capture_config(folder.as_uri(), json=("application/json",)),
            )
        sm.create_endpoint(EndpointName="swap", EndpointConfigName="cfg-A")
        wait_in_service(sm, "swap")
        traffic = Traffic(runtime, "swap")
        traffic.start()
        try:
            time.sleep(0.5)
            sm.update_endpoint(
                EndpointName="swap", EndpointConfigName="cfg-B", DeploymentConfig=CANARY
            )
            during = sm.describe_endpoint(EndpointName="swap")
            assert during["EndpointStatus"] == "Updating"
            assert during["DataCaptureConfig"]["DestinationS3Uri"] == folders["A"].as_uri()
            wait_in_service(sm, "swap")
            time.sleep(0.5)
        finally:
            traffic.stopping.set()
            traffic.join(30)
        after = sm.describe_endpoint(EndpointName="swap")
        assert after["EndpointConfigName"] == "cfg-B"
        assert after["DataCaptureConfig"]["DestinationS3Uri"] == folders["B"].as_uri()
    assert traffic.errors == []
    order = list(traffic.answers.values())
    # Both fleets answered, and during the canary step they answered in turn.
    first_b = order.index("B")
    assert "A" in order[first_b:], "no request was answered by the old fleet after the new one"
    for tag, folder in folders.items():
        records = list(read_capture(folder.as_uri()))
        captured = {r.inference_id for r in records}
        answered = {iid for iid, t in traffic.answers.items() if t == tag}
        assert captured == answered, tag
        assert len(records) == len(answered)
        for record in records:
            assert record.endpoint_output is not None
            assert json.loads(record.endpoint_output.body)["tag"] == tag
