"""Copies and the Fleet interface."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from moorage.domain.model import ModelData, MultiModelData


class CopyState(enum.StrEnum):
    PREPARING = "Preparing"  # fetching the artifact, installing requirements
    STARTING = "Starting"  # process running, /ping not yet 200
    READY = "Ready"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"  # never became ready
    CRASHED = "Crashed"  # was ready, then exited
    UNHEALTHY = "Unhealthy"  # was ready, then failed its health checks (and is killed)


@dataclass(frozen=True)
class CopyPlacement:
    """The instance a copy runs on and what it reserved there (for utilization metrics).

    A variant's copy is an instance of its own; copies of inference components
    share the instances the scheduler placed them on (``instance_id``). The
    capacities are the instance type's (``None`` where it has none, as a
    serverless variant has no vCPU count); the reservations are an inference
    component's ``ComputeResourceRequirements``.
    """

    instance_id: str
    vcpus: int | None = None
    memory_mib: int | None = None
    accelerators: int = 0
    reserved_cpus: float | None = None
    reserved_memory_mib: int | None = None
    reserved_accelerators: int | None = None
    # The instance type (``ml.m5.xlarge``): the Ray fleet sizes its placement group by it.
    instance_type: str | None = None


@dataclass(frozen=True)
class CopySpec:
    """Everything needed to start one copy."""

    copy_id: str
    endpoint: str
    variant: str
    image: str
    model_data: ModelData | None
    environment: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 480.0
    download_timeout_s: float = 3600.0
    # Environment the platform adds (accelerator visibility, adapters...).
    platform_env: Mapping[str, str] = field(default_factory=dict)
    use_cache: bool = True
    component: str | None = None
    # The CloudWatch Logs stream its output goes to (moorage.logs.names); the
    # deploy layer names it after the instance, so a restarted copy logs on there.
    log_stream: str = ""
    placement: CopyPlacement | None = None
    # A multi-model container: its models are loaded on demand (model_data is None).
    multi_model: MultiModelData | None = None
    # A multi-container model: one process per container (moorage.fleet.container_set),
    # each started from its own spec; the copy itself runs none.
    containers: tuple[CopySpec, ...] = ()
    # With containers: each request names its container (InferenceExecutionConfig Direct).
    direct: bool = False
    # A container of a multi-container copy: its name (ContainerHostname or container-N).
    container: str | None = None


class Copy:
    """A running (or starting, or dead) copy, owned and updated by its fleet.

    ``inflight`` is maintained by the router: a copy is only stopped once it
    is out of every routing snapshot and ``inflight`` has dropped to zero
    (and the router processes, if any, have none on it: moorage.fleet.drain).
    A copy of a multi-container model runs no process itself: its
    ``members`` do, one per container, each with ``parent`` set to it.
    """

    __slots__ = (
        "exit_code",
        "failure_reason",
        "host",
        "inflight",
        "log_path",
        "members",
        "parent",
        "pid",
        "port",
        "ready_at",
        "remote_inflight",
        "resolved_image",
        "secret",
        "spec",
        "started_at",
        "state",
        "unix_socket",
    )

    def __init__(self, spec: CopySpec) -> None:
        self.spec = spec
        self.state = CopyState.PREPARING
        self.host = "127.0.0.1"
        self.port = 0
        # Where the router reaches the copy instead of host:port, when it listens there too.
        self.unix_socket: str | None = None
        # Sent by the router in every request (x-moorage-copy-secret) to a copy
        # reachable over the network, which refuses requests without it.
        self.secret: str | None = None
        self.pid: int | None = None
        self.inflight = 0
        # Requests in flight on it that router processes reported (moorage.routers).
        self.remote_inflight = 0
        self.failure_reason: str | None = None
        self.resolved_image = ""
        self.log_path = ""
        self.started_at = 0.0
        self.ready_at: float | None = None
        self.exit_code: int | None = None
        self.members: tuple[Copy, ...] = ()
        self.parent: Copy | None = None

    @property
    def copy_id(self) -> str:
        return self.spec.copy_id

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"Copy({self.copy_id!r}, {self.state}, port={self.port})"


class StartFailed(Exception):
    """A copy could not be started; ``reason`` is fit to show as FailureReason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


ExitCallback = Callable[[Copy], None]


class Fleet(Protocol):
    async def start(self, spec: CopySpec) -> Copy:
        """Prepare and start a copy; return once it is READY.

        Raises :class:`StartFailed` (having cleaned up) if it cannot.
        """
        ...

    async def stop(self, copy: Copy, *, drain_timeout_s: float = 60.0) -> None:
        """Wait for in-flight requests to finish, then stop the process."""
        ...

    def on_exit(self, callback: ExitCallback) -> None:
        """Be told when a READY copy stops serving on its own.

        It exited (crash, kill), or it failed its health checks
        (``CopyState.UNHEALTHY``; the fleet then kills it). Either way it
        should be replaced; its ``failure_reason`` says why.
        """
        ...

    async def load_adapter(self, copy: Copy, name: str, artifact: ModelData) -> None:
        """Load an adapter into a running copy (inference-component adapters)."""
        ...

    async def unload_adapter(self, copy: Copy, name: str) -> None: ...

    async def shutdown(self) -> None:
        """Stop every copy (server shutdown)."""
        ...
