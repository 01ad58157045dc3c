"""``moorage shadow-report`` against a running shadow test, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.archives import toolbox_archive
from support.endpoints import create_model, delete, variant, wait_in_service
from support.experiments import create_experiment, wait_experiment
from support.names import unique
from support.server import BIN, MoorageServer


def _report(server: MoorageServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "moorage"),
            "shadow-report",
            *args,
            "--url",
            server.url,
            "--data-dir",
            str(server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_report_compares_production_and_shadow(
    serving: MoorageServer, esm: Any, runtime: Any, tmp_path: Path
) -> None:
    name = unique("reported")
    create_model(esm, f"{name}-v1", toolbox_archive(tmp_path / "v1.tar.gz", "v1").as_uri())
    create_model(esm, f"{name}-v2", toolbox_archive(tmp_path / "v2.tar.gz", "v2").as_uri())
    esm.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[variant("Prod", f"{name}-v1")]
    )
    esm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(esm, name)
    create_experiment(esm, name, name, (f"{name}-v1", "Prod"), (f"{name}-v2", "Shadow"), 100)
    wait_experiment(esm, name, "Running")

    requests = 30
    for i in range(requests):
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=json.dumps({"i": i})
        )
    with pytest.raises(ClientError):
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=b'{"op": "fail"}'
        )

    rows: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = _report(serving, name, "--json")
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        rows = {row["VariantName"]: row for row in document["Variants"]}
        if rows["Shadow"]["Invocations"] == requests + 1:
            break
        time.sleep(0.5)
    assert document["Subject"] == "inference experiment"
    assert document["EndpointName"] == name
    assert document["Status"] == "Running"
    assert rows["Prod"]["Role"] == "production"
    assert rows["Prod"]["Invocations"] == requests + 1
    assert rows["Prod"]["Invocation5XXErrors"] == 1
    assert rows["Prod"]["ShadowRequestsDropped"] is None
    assert rows["Shadow"]["Role"] == "shadow"
    assert rows["Shadow"]["Invocations"] == requests + 1
    assert rows["Shadow"]["Invocation5XXErrors"] == 1
    assert rows["Shadow"]["ShadowRequestsDropped"] == 0
    for row in rows.values():
        assert 0 < row["ModelLatencyP50Ms"] <= row["ModelLatencyP99Ms"]

    # The endpoint's name reports the same variants; the table is for people.
    table = _report(serving, name)
    assert table.returncode == 0, table.stderr
    assert f"on endpoint {name} (Running)" in table.stdout
    lines = {line.split()[0]: line.split() for line in table.stdout.splitlines()[3:]}
    assert lines["Prod"][1:3] == ["production", str(requests + 1)]
    assert lines["Shadow"][1:3] == ["shadow", str(requests + 1)]
    assert lines["Shadow"][-1] == "0"

    missing = _report(serving, f"{name}-nothing")
    assert missing.returncode == 1
    assert "neither an inference experiment nor an endpoint" in missing.stderr

    esm.stop_inference_experiment(Name=name, ModelVariantActions={"Shadow": "Remove"})
    wait_experiment(esm, name, "Completed")
    by_endpoint = _report(serving, name)
    assert by_endpoint.returncode == 0  # the experiment is still found by its name
    esm.delete_inference_experiment(Name=name)
    plain = _report(serving, name)
    assert plain.returncode == 1
    assert "has no shadow variant" in plain.stderr
    delete(esm, name)
