"""Crashes and restarts: a killed copy costs only what it was running; restarts bring all back."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from support.endpoints import delete, deploy, wait_in_service
from support.names import unique
from support.processes import wait_dead
from support.server import MoorageServer, running


def _pid(runtime: Any, name: str) -> int:
    answer = runtime.invoke_endpoint(
        EndpointName=name, ContentType="application/json", Body='{"op": "echo"}'
    )
    pid: int = json.loads(answer["Body"].read())["pid"]
    return pid


def test_kill_9_of_one_copy_fails_only_the_requests_it_was_running_and_it_is_replaced(
    esm: Any, runtime: Any, toolbox_url: str
) -> None:
    """Requests sent to the dead copy go to the other one; those it had taken are lost.

    A request already written to the killed copy may have run, so it is not
    sent again: its caller gets a ``ModelError`` (424, ``OriginalStatusCode``
    0). Each load thread has at most one request in flight when the copy dies.
    """
    name = unique("kill9")
    deploy(esm, name, toolbox_url, count=2)
    before = {_pid(runtime, name) for _ in range(40)}
    assert len(before) == 2

    failures: list[tuple[str, object]] = []
    served = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal served
        while not stop.is_set():
            try:
                runtime.invoke_endpoint(
                    EndpointName=name,
                    ContentType="application/json",
                    Body='{"op": "sleep", "seconds": 0.01}',
                )
                served += 1
            except ClientError as exc:
                failures.append(
                    (exc.response["Error"]["Code"], exc.response.get("OriginalStatusCode"))
                )
            except Exception as exc:
                failures.append((repr(exc), None))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    try:
        deadline = time.monotonic() + 60
        replaced: set[int] = set()
        while time.monotonic() < deadline:
            try:
                replaced = {_pid(runtime, name) for _ in range(20)}
            except ClientError as exc:
                # SIGKILL takes effect a moment after kill() returns: a request
                # the dying copy still took is lost like the load's.
                assert exc.response.get("OriginalStatusCode") == 0, exc.response
                continue
            if len(replaced) == 2 and victim not in replaced:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert all(failure == ("ModelError", 0) for failure in failures), failures
    assert len(failures) <= len(threads)
    assert served > 0
    assert len(replaced) == 2 and victim not in replaced
    summary = esm.describe_endpoint(EndpointName=name)
    assert summary["EndpointStatus"] == "InService"
    assert summary["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    delete(esm, name)


def test_restart_brings_endpoints_back_and_leaves_no_process(
    tmp_path: Path, toolbox_url: str
) -> None:
    data = tmp_path / "data"
    with running(data) as first:
        sm, runtime = first.sagemaker, first.client("sagemaker-runtime")
        deploy(sm, "survivor", toolbox_url, count=2)
        pids = {_pid(runtime, "survivor") for _ in range(30)}
        assert len(pids) == 2
        assert first.stop() == 0
    assert wait_dead(pids) == set()

    with running(data) as second:
        sm, runtime = second.sagemaker, second.client("sagemaker-runtime")
        wait_in_service(sm, "survivor")
        again = {_pid(runtime, "survivor") for _ in range(30)}
        assert len(again) == 2 and not again & pids
        second.kill9()
    assert wait_dead(again) == set(), "model servers outlived a SIGKILLed server"


def test_each_copy_keeps_its_output_in_the_data_dir(
    serving: MoorageServer, esm: Any, toolbox_url: str
) -> None:
    name = unique("logs")
    deploy(esm, name, toolbox_url)
    logs = list((serving.data_dir / "logs" / name).glob("*.log"))
    assert logs
    assert any("listening on" in p.read_text() for p in logs)
    delete(esm, name)


def test_the_router_reaches_built_in_copies_through_their_unix_socket(
    serving: MoorageServer, esm: Any, runtime: Any, toolbox_url: str
) -> None:
    run = serving.data_dir / "run"
    existing = set(run.glob("copy-*.sock"))
    name = unique("socket")
    deploy(esm, name, toolbox_url)
    sockets = set(run.glob("copy-*.sock")) - existing
    assert len(sockets) == 1
    before = _unix_connections(sockets)
    _pid(runtime, name)
    if before is not None:
        # /proc/net/unix names the path for the listener and each accepted connection.
        assert (_unix_connections(sockets) or 0) > before
    delete(esm, name)
    assert not any(path.exists() for path in sockets)


def _unix_connections(paths: set[Path]) -> int | None:
    table = Path("/proc/net/unix")
    if not table.exists():
        return None
    names = {str(path) for path in paths}
    return sum(line.split()[-1] in names for line in table.read_text().splitlines()[1:])
