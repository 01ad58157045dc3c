"""Composition root: builds every layer from one Settings and runs the port.

``moorage serve`` calls :func:`serve`; tests and benchmarks start the same
code through the command line. Shutdown order: stop accepting requests,
let in-flight ones finish, then stop background work and close the store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn

from moorage.api.app import App, Routes
from moorage.api.autoscaling_api import install_autoscaling
from moorage.api.cloudwatch_api import CloudWatch
from moorage.api.gate import Gate
from moorage.api.logs_api import install_logs
from moorage.api.models_page import PATH as MODELS_PATH
from moorage.api.models_page import models_page
from moorage.api.placement_page import PATH as PLACEMENT_PATH
from moorage.api.placement_page import placement_page
from moorage.api.plan_page import PATH as PLAN_PATH
from moorage.api.plan_page import PlanPage
from moorage.api.sagemaker_api import sagemaker_service
from moorage.arns import Partition
from moorage.async_inference.service import AsyncInference, async_router
from moorage.autoscaling.service import AutoScaling
from moorage.capture.process import CaptureProcess
from moorage.capture.reporting import CaptureReporter
from moorage.clients.quickdeploy import QuickDeploy, deploy, how_to_invoke
from moorage.clock import Clock, ScaledClock, SystemClock
from moorage.control.context import ControlContext
from moorage.control.plane import ControlPlane
from moorage.dashboard.access import PREFIX as DASHBOARD_PREFIX
from moorage.dashboard.access import ROOT as DASHBOARD_ROOT
from moorage.dashboard.deploy_history import DeploymentHistory
from moorage.dashboard.handler import Dashboard
from moorage.dashboard.views.sources import Sources
from moorage.data_dir import PRIVATE_UMASK, open_data_dir
from moorage.deploy.alarm_watch import alarm_check, wake_on_transitions
from moorage.deploy.components import ComponentRunner
from moorage.deploy.console_events import ConsoleEvents
from moorage.deploy.driver import RolloutDriver
from moorage.deploy.experiment_driver import ExperimentDriver
from moorage.deploy.reconciler import Reconciler
from moorage.domain.endpoint import KIND as ENDPOINT_KIND
from moorage.errors import ServiceError
from moorage.file_roots import FileRoots
from moorage.fleet.artifact_preparer import ArtifactPreparer
from moorage.fleet.images import ImageMap
from moorage.fleet.local import LocalProcessFleet
from moorage.fleet.ray.fleet import RayFleet
from moorage.listener import ListenError, bind
from moorage.logs.layout import LOGS_DIR
from moorage.logs.names import LogArns
from moorage.logs.service import LogsService
from moorage.monitoring import InvocationMetrics
from moorage.monitoring.capture_metrics import CaptureMetrics
from moorage.monitoring.hold_metrics import HoldMetrics
from moorage.monitoring.invocation_batch import BatchedInvocations
from moorage.monitoring.multi_model_metrics import ContainerMetrics, MultiModelMetrics
from moorage.monitoring.usage_metrics import UsageMetrics
from moorage.port import build_gate, unix_listener, uvicorn_config
from moorage.routers.pool import RouterPool, control_socket_path
from moorage.routers.server_side import HandedOver
from moorage.runtime.hold import HoldLimits, Holds
from moorage.runtime.hosted import HostedModels
from moorage.runtime.invoke import Invoker
from moorage.runtime.multi_model.manager import MultiModels
from moorage.runtime.shadow import ShadowMirror
from moorage.runtime.upstream import Upstream
from moorage.settings import Settings
from moorage.store.sqlite import SqliteStore
from moorage.usage import UsageSampler

log = logging.getLogger(__name__)

# How long a stop waits for queued capture records to be written.
CAPTURE_CLOSE_TIMEOUT_S = 20.0


class Moorage:
    """Everything a running server holds."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(settings.db_path)
        self.images = ImageMap.load(settings.image_map_path or settings.data_dir / "images.json")
        self.file_roots = FileRoots.of(settings.file_roots, exclude=(settings.data_dir,))
        self.preparer = ArtifactPreparer(
            settings.data_dir / "cache",
            file_roots=self.file_roots,
            max_unpacked_bytes=settings.max_unpacked_bytes,
        )
        # Processes start and drain in real time whatever the server's clock.
        fleet_clock = SystemClock() if isinstance(clock, ScaledClock) else clock
        self.ray_fleet: RayFleet | None = None
        self.fleet: LocalProcessFleet | RayFleet
        if settings.fleet == "ray":
            # Copies as actors on a Ray cluster (docs/ray.md); joined in start().
            self.fleet = self.ray_fleet = RayFleet(
                data_dir=settings.data_dir,
                images=self.images,
                preparer=self.preparer,
                file_roots=self.file_roots,
                clock=fleet_clock,
                address=settings.ray_address,
                reattach_grace_s=settings.ray_reattach_grace_s,
            )
        else:
            self.fleet = LocalProcessFleet(
                data_dir=settings.data_dir,
                images=self.images,
                preparer=self.preparer,
                file_roots=self.file_roots,
                clock=fleet_clock,
            )
        # Tells asynchronous endpoints apart (docs/async-inference.md).
        self.router = async_router(self.store)
        self.upstream = Upstream()
        self.reconciler = Reconciler(
            self.store,
            self.fleet,
            self.router,
            clock,
            serverless_idle_s=settings.serverless_idle_s,
        )
        self.rollouts = RolloutDriver(clock, schedule=self.reconciler.wake_at)
        self.reconciler.add_hook(self.rollouts.hook)
        self.components = ComponentRunner(
            self.store,
            self.fleet,
            self.router,
            clock,
            poke=self.reconciler.poke,
            schedule=self.reconciler.wake_at,
        )
        self.reconciler.add_hook(self.components.hook)
        self.reconciler.add_delete_guard(self.components.holds)
        # One console line per endpoint lifecycle event (after the rollout driver).
        self.reconciler.add_hook(ConsoleEvents().hook)
        self.ctx = ControlContext(
            self.store,
            clock,
            Partition(settings.region, settings.account_id),
            notify=self.reconciler.poke,
            file_roots=self.file_roots,
        )
        self.plane = ControlPlane(self.ctx)
        self.cloudwatch = CloudWatch(self.ctx, max_body=settings.max_api_body_bytes)
        self.metrics = self.cloudwatch.metrics
        self.alarms = self.cloudwatch.alarms
        self.capture = CaptureProcess(
            clock,
            flush_interval_s=settings.capture_flush_interval_s,
            # Lost records become metrics and a log line per change (docs/data-capture.md).
            on_counts=CaptureReporter(CaptureMetrics(self.metrics)),
        )
        self.rollouts.alarms = alarm_check(self.alarms)
        self.components.alarms = alarm_check(self.alarms)
        wake_on_transitions(self.alarms, self.reconciler.poke)
        self.invocation_metrics = InvocationMetrics(self.metrics)
        # Invocations are recorded in groups, before anything reads the metrics.
        self.invocations = BatchedInvocations(self.invocation_metrics, self.metrics)
        # The copies' utilization, requests in flight and setup times.
        self.usage = UsageSampler(
            self.fleet,
            UsageMetrics(self.metrics),
            clock,
            interval_s=settings.metrics_sample_interval_s,
        )
        self.shadows = ShadowMirror(
            self.router,
            self.upstream,
            self.invocations,
            capture=self.capture,
            queue_size=settings.shadow_queue_size,
            concurrency=settings.shadow_concurrency,
        )
        self.experiments = ExperimentDriver(
            self.store,
            clock,
            self.ctx.partition,
            wake_at=self.reconciler.wake_at,
            poke=self.reconciler.poke,
            capture=self.shadows,
        )
        self.reconciler.add_pass_hook(self.experiments.run_pass)
        # Invocations that find no copy wait while one starts (runtime/hold.py).
        self.holds = Holds(
            self.router,
            HoldLimits(settings.hold_queue_size, settings.hold_timeout_s),
            HoldMetrics(self.metrics),
        )
        # Multi-model containers (models loaded on demand) and multi-container models.
        self.multi_models = MultiModels(
            self.preparer,
            clock,
            MultiModelMetrics(self.metrics),
            sample_interval_s=settings.metrics_sample_interval_s,
        )
        self.hosted = HostedModels(self.multi_models, ContainerMetrics(self.metrics))
        self.reconciler.add_delete_guard(self.multi_models.endpoint_deleting)
        self.invoker = Invoker(
            self.router,
            self.upstream,
            account_id=settings.account_id,
            region=settings.region,
            observer=self.invocations,
            capture=self.capture,
            shadows=self.shadows,
            holds=self.holds,
            hosted=self.hosted,
            stored_status=self._endpoint_status,
        )
        # InvokeEndpointAsync: a durable queue run on the endpoints' copies.
        self.async_inference = AsyncInference(
            self.router,
            self.store,
            self.upstream,
            self.metrics,
            clock,
            region=settings.region,
            account_id=settings.account_id,
            file_roots=self.file_roots,
            sample_interval_s=settings.metrics_sample_interval_s,
        )
        self.invoker.async_invocations = self.async_inference.handler
        self.routes = Routes(
            prefixes=[
                ("/endpoints/", self.invoker),
                (PLAN_PATH, PlanPage(self.plane.endpoint_updates)),
                (PLACEMENT_PATH, placement_page(self.plane.inference_components)),
                (MODELS_PATH, models_page(self.plane.endpoints, self.multi_models)),
            ]
        )
        self.cloudwatch.install(self.routes)
        # The model servers' output, as CloudWatch Logs (docs/logs.md).
        self.logs = LogsService(
            settings.data_dir / LOGS_DIR, LogArns(settings.region, settings.account_id)
        )
        install_logs(self.routes, self.logs)
        # Application Auto Scaling over the SageMaker capacity operations (docs/autoscaling.md).
        self.autoscaling = AutoScaling(
            self.ctx, self.plane, self.cloudwatch.alarm_service, self.alarms, self.metrics
        )
        install_autoscaling(self.routes, self.autoscaling)
        self.holds.wake_component = self.autoscaling.wake_component
        self.sagemaker = sagemaker_service(self.plane)
        gate = build_gate(settings)
        self._add_dashboard(gate)
        self.app = App(
            self.sagemaker,
            self.routes,
            gate,
            max_body=settings.max_api_body_bytes,
        )

    def _add_dashboard(self, gate: Gate) -> None:
        """The web dashboard at ``GET /`` and ``/ui/`` (docs/dashboard.md)."""
        # Remembers deployments after their documents are gone (after the rollout hooks).
        self.deployment_history = DeploymentHistory(self.clock)
        self.reconciler.add_hook(self.deployment_history.hook)
        sources = Sources(
            plane=self.plane,
            metrics=self.metrics,
            alarms=self.alarms,
            activities=self.autoscaling.activity_log,
            logs=self.logs,
            deployments=self.deployment_history,
            clock=self.clock,
            region=self.settings.region,
            account_id=self.settings.account_id,
        )
        self.dashboard = Dashboard(sources, gate.verifier.keys if gate.verifier else None)
        # A session cookie stands in for a signature on the dashboard's own paths only.
        gate.sessions = self.dashboard.access
        self.routes.prefixes.append((DASHBOARD_PREFIX, self.dashboard))
        self.routes.pages[DASHBOARD_ROOT] = self.dashboard

    async def start(self) -> None:
        """Start background work (the reconciler); called before the port opens."""
        # Files prepared for copies of a server that died (no process uses them now).
        await asyncio.to_thread(self.preparer.sweep)
        if self.ray_fleet is not None:
            await self.ray_fleet.connect()
        await self.cloudwatch.start()
        await self.autoscaling.start()
        self.capture.start()
        await self.reconciler.start()
        self.usage.start()
        self.async_inference.start()
        self.multi_models.start()

    def _endpoint_status(self, name: str) -> str | None:
        record = self.store.get(ENDPOINT_KIND, name)
        return None if record is None else str(record.doc.get("status", ""))

    async def stop(self) -> None:
        """Stop background work, every copy, and close the store."""
        try:
            self.invocations.flush()
            await self.usage.stop()
            await self.async_inference.stop()
            await self.shadows.aclose()
            await self._close_capture()
            await self.autoscaling.stop()
            await self.cloudwatch.stop()
            self.components.close()
            await self.reconciler.stop()
            await self.multi_models.stop()
            await self.upstream.close()
        finally:
            self.store.close()

    async def _close_capture(self) -> None:
        # Requests have finished by now: write every captured pair still queued.
        if not await self.capture.aclose(CAPTURE_CLOSE_TIMEOUT_S):
            log.warning(
                "data capture: %d records were still unwritten after %.0f s",
                self.capture.stats.pending,
                CAPTURE_CLOSE_TIMEOUT_S,
            )
        stats = self.capture.stats
        if stats.failed or stats.dropped:
            log.warning(
                "data capture: %d records failed to be written, %d were dropped (last error: %s)",
                stats.failed,
                stats.dropped,
                stats.last_error,
            )


async def serve(
    settings: Settings,
    on_ready: Callable[[str], None],
    deploys: tuple[QuickDeploy, ...] = (),
) -> None:
    # Everything written from here on (database, caches, logs, sockets, and
    # what model servers write) is private to this user (docs/data-dir.md).
    os.umask(PRIVATE_UMASK)
    # Held for the process's life: a second server on this data dir stops here.
    lock = open_data_dir(settings.data_dir)
    # The port is taken before anything starts: a taken port is one line (docs/cli.md).
    try:
        listener = bind(settings.host, settings.port)
    except ListenError:
        lock.release()
        raise
    clock: Clock = SystemClock()
    if settings.clock_speed != 1.0:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        clock = ScaledClock.persistent(settings.data_dir / "clock.json", settings.clock_speed)
    moorage = Moorage(settings, clock)
    # uvicorn re-raises the signal that stopped it once it has shut down;
    # these no-op handlers let the cleanup below run instead of dying there.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    routers: RouterPool | None = None
    sockets = [listener]
    app: App | HandedOver = moorage.app
    if settings.workers and settings.tls_cert:
        # What the routers hand over came to them over TLS.
        app = HandedOver(moorage.app, scheme="https")
    server = _Server(uvicorn_config(app, settings, tls=settings.workers == 0))
    if settings.workers:
        # Router processes take the port; this process serves them (docs/workers.md).
        control_path = control_socket_path(settings.data_dir)
        sockets = [unix_listener(str(control_path))]
        routers = RouterPool(
            settings,
            listener,
            str(control_path),
            moorage.router,
            moorage.invocation_metrics,
            settings.workers,
        )
        moorage.fleet.remote_drain = routers.drain
        server.before_exit = routers.stop
    await moorage.start()
    try:
        task = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started and routers is not None:
            await routers.start()
        if server.started:
            port = listener.getsockname()[1]
            host = f"[{settings.host}]" if ":" in settings.host else settings.host
            url = f"{settings.scheme}://{host}:{port}"
            on_ready(url)
            for item in deploys:
                try:
                    await deploy(moorage.sagemaker, item)
                except ServiceError as exc:
                    # Refused as the API would refuse it (e.g. outside --file-root):
                    # say why on one line and keep serving.
                    print(f"moorage serve: --deploy {item.name}: {exc.message}", file=sys.stderr)
                    continue
                print(how_to_invoke(url, item, settings.data_dir), flush=True)
        await task
    finally:
        if routers is not None:
            await routers.stop()
        listener.close()
        await moorage.stop()
        lock.release()


class _Server(uvicorn.Server):
    """uvicorn's server, which may first stop the router processes when asked to stop.

    With ``--workers``, a stop signal closes the routers first (they finish
    their requests, some of which this process answers), then this server.
    """

    before_exit: Callable[[], Awaitable[None]] | None = None
    _exiting: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.before_exit is None or self._exiting is not None:
            super().handle_exit(sig, frame)
            return
        self._exiting = asyncio.get_event_loop().create_task(self._exit_after(self.before_exit))

    async def _exit_after(self, first: Callable[[], Awaitable[None]]) -> None:
        try:
            await first()
        finally:
            self.should_exit = True
