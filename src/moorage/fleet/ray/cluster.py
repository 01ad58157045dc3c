"""The connection to a Ray cluster, and what of moorage's it already holds.

``moorage serve --fleet ray`` joins a running cluster as a Ray driver
(``ray.init(address=...)``; ``auto`` finds a cluster started on this
machine with ``ray start``). Everything moorage creates there lives in one
Ray namespace per data dir (:func:`namespace_of`): the copies' actors and
the instances' placement groups are detached and named, so they outlive the
server, and a server restarted on the same data dir lists them
(:func:`survivors`) to reattach its copies rather than start them again
(:mod:`moorage.fleet.ray.fleet`).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ACTOR_PREFIX = "copy-"


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster cannot be reached."""


def import_ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise RayUnavailable(
            "--fleet ray needs Ray: pip install 'moorage[ray]' (on every node of the cluster too)"
        ) from None


def namespace_of(data_dir: Path) -> str:
    """The Ray namespace of the server that keeps its state in ``data_dir``."""
    digest = hashlib.blake2s(str(data_dir.resolve()).encode(), digest_size=6).hexdigest()
    return f"moorage-{digest}"


def connect(address: str | None, namespace: str) -> Any:
    """Join the cluster (blocking); the ``ray`` module, ready to use."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address and address != "auto":
        # ray.init retries an unreachable address for minutes: say so at once instead.
        _reachable(address)
    try:
        ray.init(
            address=address or "auto",
            namespace=namespace,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at {address or 'auto'}: {exc}") from None
    return ray


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    if "://" in address:
        raise RayUnavailable(
            f"--ray-address {address}: give the HOST:PORT of the cluster's head "
            "(Ray Client ray:// addresses are not supported)"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"--ray-address {address}: expected HOST:PORT of the cluster's head")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(
            f"cannot join the Ray cluster at {address}: {exc.strerror or exc}"
        ) from None


@dataclass(frozen=True)
class Survivor:
    """A copy's actor found alive on the cluster, as it describes itself."""

    name: str
    handle: Any
    identity: dict[str, str]
    started: dict[str, Any] | None
    secret: str


def survivors(ray: Any, namespace: str, timeout_s: float = 30.0) -> list[Survivor]:
    """Every copy actor of ``namespace`` that still answers (blocking)."""
    found = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name = entry["name"] if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and entry.get("namespace") != namespace:
            continue
        if not name.startswith(ACTOR_PREFIX):
            continue
        try:
            handle = ray.get_actor(name, namespace=namespace)
            described = ray.get(handle.describe.remote(), timeout=timeout_s)
        except Exception as exc:
            log.warning("Ray actor %s does not answer (%s); removing it", name, exc)
            kill_quietly(ray, name, namespace)
            continue
        found.append(
            Survivor(
                name,
                handle,
                dict(described["identity"]),
                described["started"],
                described["secret"],
            )
        )
    return found


def kill_quietly(ray: Any, name: str, namespace: str) -> None:
    try:
        ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
    except Exception:
        log.debug("actor %s was already gone", name)


def leftover_groups(ray: Any, namespace: str, keep: set[str]) -> list[Any]:
    """Placement groups of ``namespace``'s instances that no copy holds (blocking)."""
    found = []
    for pg_id, info in ray.util.placement_group_table().items():
        name = info.get("name") or ""
        if not name.startswith(f"{namespace}-instance-") or name in keep:
            continue
        if info.get("state") == "REMOVED":
            continue
        found.append(ray.util.get_placement_group(name))
        log.debug("placement group %s (%s) is left over", name, pg_id)
    return found
