"""Helpers for tests of ``moorage serve --fleet ray``: servers, invocations, copy nodes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.ray_cluster import RayCluster
from support.server import MoorageServer, running

# 2 vCPU and 4 GiB: fills a node of the test cluster, so instances land on distinct nodes.
WHOLE_NODE = "ml.c5.large"
# 1 vCPU and 2 GiB: two fit on a node.
HALF_NODE = "ml.c8g.medium"


def ray_server(data_dir: Path, cluster: RayCluster, *extra: str) -> Any:
    return running(
        data_dir, extra_args=("--fleet", "ray", "--ray-address", cluster.address, *extra)
    )


def invoke(runtime: Any, name: str, **args: Any) -> dict[str, Any]:
    answer = runtime.invoke_endpoint(
        EndpointName=name,
        Body=json.dumps({"op": "echo"}),
        ContentType="application/json",
        **args,
    )
    result: dict[str, Any] = json.loads(answer["Body"].read())
    return result


def placements(server: MoorageServer) -> dict[str, tuple[str, str, str, int]]:
    """Copy id → (instance id, Ray node id, host, port), from the copies' log streams."""
    found = {}
    for path in (server.data_dir / "logs").rglob("*"):
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if " runs on Ray node " not in line:
                continue
            words = line.split("moorage: copy ")[1].split()
            # <copy> of instance <instance> runs on Ray node <node> at <host:port>
            host, port = words[-1].rsplit(":", 1)
            found[words[0]] = (words[3], words[8], host, int(port))
    return found


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def actors_in(cluster: RayCluster, namespace_of_data_dir: Path) -> list[str]:
    """Names of the live actors the server of ``namespace_of_data_dir`` has on the cluster."""
    probe = (
        "import json, ray, sys\n"
        "from moorage.fleet.ray.cluster import namespace_of\n"
        "from pathlib import Path\n"
        f"ns = namespace_of(Path({str(namespace_of_data_dir)!r}))\n"
        f"ray.init(address={cluster.address!r}, log_to_driver=False)\n"
        "names = [a['name'] for a in ray.util.list_named_actors(all_namespaces=True) "
        "if a['namespace'] == ns]\n"
        "print(json.dumps(names))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    names: list[str] = json.loads(run.stdout.strip().splitlines()[-1])
    return names
