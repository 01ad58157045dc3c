"""A small multi-node Ray cluster on this machine, for the Ray fleet's tests.

:func:`ray_cluster` starts a head node and worker nodes, each a ``ray start
--block`` process of its own (its own session, so one node can be killed
alone, as a machine is lost), with its own temporary directory, explicit
ports (several nodes share this machine) and small logical resources: each
node advertises ``cpus`` CPUs and ``memory_gib`` of memory, so that one
instance of a small instance type fills it and instances land on distinct
nodes. Nodes are named (``head``, ``w1``, ``w2``): the Ray fleet writes the
name of the node a copy runs on into the copy's log.

Everything the cluster started is stopped when the context ends — only
these processes, by their process groups.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from support.ports import free_port

RAY = Path(sys.executable).with_name("ray")
GIB = 1024**3
# Each node advertises one unit of a resource named after it (how tests tell nodes apart).
RESOURCE_PREFIX = "test_node_"


@dataclass
class RayNode:
    name: str
    process: subprocess.Popen[bytes]
    temp_dir: Path
    log: Path

    def kill(self) -> None:
        """Lose this node at once: SIGKILL to its processes and all they started.

        Ray's workers (the copies' actors) run in process groups of their own,
        so the whole tree is killed, not just the node's group.
        """
        try:
            tree = [self.process, *psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for proc in tree:
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                proc.kill()
        # The node is lost once every one of its processes is gone.
        psutil.wait_procs([p for p in tree if isinstance(p, psutil.Process)], timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


@dataclass
class RayCluster:
    address: str
    nodes: dict[str, RayNode] = field(default_factory=dict)
    root: Path = Path()
    cpus: int = 1
    memory_gib: float = 2.5
    env: dict[str, str] = field(default_factory=dict)

    def clean(self) -> None:
        """Remove every named actor and placement group, and bring lost workers back."""
        probe = (
            "import ray\n"
            f"ray.init(address={self.address!r}, log_to_driver=False)\n"
            "for a in ray.util.list_named_actors(all_namespaces=True):\n"
            "    try:\n"
            "        ray.kill(ray.get_actor(a['name'], namespace=a['namespace']))\n"
            "    except Exception:\n"
            "        pass\n"
            "for pg_id, info in ray.util.placement_group_table().items():\n"
            "    if info['state'] != 'REMOVED' and info.get('name'):\n"
            "        try:\n"
            "            group = ray.util.get_placement_group(info['name'])\n"
            "            ray.util.remove_placement_group(group)\n"
            "        except Exception:\n"
            "            pass\n"
        )
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, timeout=120, env=self.env
        )
        for name, node in list(self.nodes.items()):
            if name != "head" and node.process.poll() is not None:
                self.replace_worker(name)

    def replace_worker(self, name: str) -> None:
        """Start a new worker node called ``name`` (after the old one was killed)."""
        old = self.nodes[name]
        old.kill()
        before = sum(1 for n in self.nodes.values() if n.process.poll() is None)
        args = [f"--address={self.address}", "--node-ip-address=127.0.0.1"]
        self.nodes[name] = _start(
            name, args, self.root, self.cpus, self.memory_gib, self.env, fresh=True
        )
        _wait_nodes(self.address, before + 1, self.env)

    def worker_names(self) -> list[str]:
        return [name for name in self.nodes if name != "head"]

    def node_names(self) -> dict[str, str]:
        """Ray node id → node name (``head``, ``w1``...) of every live node."""
        probe = (
            "import json, ray\n"
            f"ray.init(address={self.address!r}, log_to_driver=False)\n"
            "print(json.dumps({n['NodeID']: sorted(n['Resources']) for n in ray.nodes() "
            "if n['Alive']}))\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
        )
        found = json.loads(run.stdout.strip().splitlines()[-1])
        names = {}
        for node_id, resources in found.items():
            for resource in resources:
                if resource.startswith(RESOURCE_PREFIX):
                    names[node_id] = resource.removeprefix(RESOURCE_PREFIX)
        return names

    def stop(self) -> None:
        for node in reversed(list(self.nodes.values())):
            if node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for node in self.nodes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(max(0.1, deadline - time.monotonic()))
            node.kill()


def _ports() -> list[str]:
    ports = {
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--runtime-env-agent-port": free_port(),
        "--metrics-export-port": free_port(),
    }
    return [f"{k}={v}" for k, v in ports.items()]


def _start(
    name: str,
    args: list[str],
    root: Path,
    cpus: int,
    memory_gib: float,
    env: dict[str, str],
    *,
    fresh: bool = False,
) -> RayNode:
    temp_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root)) if fresh else root / name
    temp_dir.mkdir(parents=True, exist_ok=True)
    log = root / f"{name}.out"
    argv = [
        str(RAY),
        "start",
        *args,
        "--block",
        f"--num-cpus={cpus}",
        "--num-gpus=0",
        f"--memory={int(memory_gib * GIB)}",
        f"--object-store-memory={100 * 1024 * 1024}",
        f"--resources={json.dumps({RESOURCE_PREFIX + name: 1})}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        *_ports(),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    return RayNode(name, process, temp_dir, log)


def _wait_nodes(address: str, count: int, env: dict[str, str], timeout_s: float = 120.0) -> None:
    probe = (
        "import ray, sys\n"
        f"ray.init(address={address!r}, log_to_driver=False)\n"
        "print(sum(1 for n in ray.nodes() if n['Alive']))\n"
    )
    deadline = time.monotonic() + timeout_s
    alive = 0
    while time.monotonic() < deadline:
        run = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
        )
        if run.returncode == 0 and run.stdout.strip().isdigit():
            alive = int(run.stdout.strip())
            if alive >= count:
                return
        time.sleep(1.0)
    raise RuntimeError(f"the Ray cluster at {address} has {alive} of {count} nodes alive")


@contextlib.contextmanager
def ray_cluster(
    workers: int = 2, *, cpus: int = 1, memory_gib: float = 2.5, head_cpus: int | None = None
) -> Iterator[RayCluster]:
    """Head plus ``workers`` worker nodes; each node holds one ``cpus``-vCPU instance."""
    root = Path(tempfile.mkdtemp(prefix="moorage-ray-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MOORAGE_"))}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    port = free_port()
    address = f"127.0.0.1:{port}"
    cluster = RayCluster(address, root=root, cpus=cpus, memory_gib=memory_gib, env=env)
    try:
        head_args = [
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
        ]
        cluster.nodes["head"] = _start(
            "head", head_args, root, cpus if head_cpus is None else head_cpus, memory_gib, env
        )
        _wait_nodes(address, 1, env)
        for index in range(1, workers + 1):
            name = f"w{index}"
            args = [f"--address={address}", "--node-ip-address=127.0.0.1"]
            cluster.nodes[name] = _start(name, args, root, cpus, memory_gib, env)
        _wait_nodes(address, 1 + workers, env)
        yield cluster
    finally:
        cluster.stop()
