"""Losing a Ray node, and restarting the server: copies healed, reattached, orphans removed."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from support.endpoints import create_model, delete, variant, wait_in_service
from support.ray_cluster import RayCluster
from support.ray_fleet import (
    HALF_NODE,
    WHOLE_NODE,
    actors_in,
    invoke,
    placements,
    ray_server,
    wait_for,
)
from support.server import MoorageServer

pytest.importorskip("ray", reason="Ray is not installed (pip install 'moorage[ray]')")


class PausableLoad:
    """One client invoking back to back; :meth:`between` holds it between two requests."""

    def __init__(self, runtime: Any, endpoint: str) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.answers = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._gate = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._gate:
                try:
                    invoke(self.runtime, self.endpoint)
                    self.answers += 1
                except Exception as exc:
                    self.failures.append(repr(exc))
            time.sleep(0.01)

    def __enter__(self) -> PausableLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def between(self) -> threading.Lock:
        """Held: no request is in flight (one that was running on a lost node cannot
        be saved; every request sent after the loss must succeed)."""
        return self._gate


def _endpoint(sm: Any, name: str, url: str, instance_type: str, count: int) -> None:
    create_model(sm, name, url)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant("AllTraffic", name, count=count, InstanceType=instance_type)],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name, attempts=240)


def test_a_lost_node_is_healed_without_failed_requests(
    tmp_path: Path, cluster: RayCluster, toolbox_url: str
) -> None:
    with ray_server(tmp_path / "data", cluster) as server:
        sm = server.sagemaker
        _endpoint(sm, "heal", toolbox_url, WHOLE_NODE, 2)
        names = cluster.node_names()
        before = placements(server)
        hosts = {names[node] for _, node, _, _ in before.values()}
        victim = sorted(hosts - {"head"})[0]
        runtime = server.client("sagemaker-runtime")
        counts: list[int] = []
        with PausableLoad(runtime, "heal") as load:
            wait_for("load", lambda: load.answers >= 20)
            with load.between():
                cluster.nodes[victim].kill()

            def healed() -> bool:
                described = sm.describe_endpoint(EndpointName="heal")
                counts.append(described["ProductionVariants"][0]["CurrentInstanceCount"])
                now = placements(server)
                return len(now) > len(before) and counts[-1] == 2

            wait_for("the lost copy to be replaced", healed, timeout=180)
            served = load.answers
            wait_for("more load", lambda: load.answers >= served + 20)
        assert load.failures == []
        assert min(counts) == 1, counts
        after = placements(server)
        new = [after[c] for c in after if c not in before]
        assert len(new) == 1
        assert names.get(new[0][1]) != victim
        delete(sm, "heal")


def test_restart_reattaches_and_removes_orphans(
    tmp_path: Path, cluster: RayCluster, toolbox_url: str
) -> None:
    data = tmp_path / "data"
    with ray_server(data, cluster) as first:
        _endpoint(first.sagemaker, "keep", toolbox_url, HALF_NODE, 1)
        _endpoint(first.sagemaker, "gone", toolbox_url, HALF_NODE, 1)
        pid = invoke(first.client("sagemaker-runtime"), "keep")["pid"]
        assert len(actors_in(cluster, data)) == 2
        first.kill9()
    _forget_endpoint(data, "gone")
    with ray_server(data, cluster, "--ray-reattach-grace", "5") as second:
        sm = second.sagemaker
        wait_in_service(sm, "keep", attempts=120)
        # The same model-server process answers: reattached, not started again.
        assert invoke(second.client("sagemaker-runtime"), "keep")["pid"] == pid
        wait_for("the orphan's removal", lambda: len(actors_in(cluster, data)) == 1, 60)
        delete(sm, "keep")
        wait_for("the copy's removal", lambda: actors_in(cluster, data) == [], 60)


def _forget_endpoint(data_dir: Path, name: str) -> None:
    """The endpoint vanishes from the store while no server runs (a restored backup)."""
    from moorage.domain.endpoint import KIND
    from moorage.store.sqlite import SqliteStore

    store = SqliteStore(data_dir / "moorage.db")
    try:
        assert store.delete(KIND, name)
    finally:
        store.close()


__all__ = ["MoorageServer"]
