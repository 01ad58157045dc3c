"""Composition root: builds every layer from one Settings and runs the port.

``moorage serve`` calls :func:`serve`; tests and benchmarks start the same
code through the command line. Shutdown order: stop accepting requests,
let in-flight ones finish, then stop background work and close the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

import uvicorn

from moorage.api.app import App, Routes
from moorage.api.cloudwatch_api import CloudWatch
from moorage.api.placement_page import PATH as PLACEMENT_PATH
from moorage.api.placement_page import PlacementPage
from moorage.api.plan_page import PATH as PLAN_PATH
from moorage.api.plan_page import PlanPage
from moorage.api.sagemaker_api import sagemaker_service
from moorage.arns import Partition
from moorage.capture.process import CaptureProcess
from moorage.clock import Clock, ScaledClock, SystemClock
from moorage.coalesce import CoalescingHttpToolsProtocol
from moorage.control.context import ControlContext
from moorage.control.plane import ControlPlane
from moorage.deploy.alarm_watch import alarm_check, wake_on_transitions
from moorage.deploy.components import ComponentRunner
from moorage.deploy.driver import RolloutDriver
from moorage.deploy.experiment_driver import ExperimentDriver
from moorage.deploy.reconciler import Reconciler
from moorage.fleet.artifact_preparer import ArtifactPreparer
from moorage.fleet.images import ImageMap
from moorage.fleet.local import LocalProcessFleet
from moorage.monitoring import InvocationMetrics
from moorage.quickdeploy import QuickDeploy, deploy, how_to_invoke
from moorage.runtime.invoke import Invoker
from moorage.runtime.router import Router
from moorage.runtime.shadow import ShadowMirror
from moorage.runtime.upstream import Upstream
from moorage.settings import Settings
from moorage.store.sqlite import SqliteStore

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
        self.preparer = ArtifactPreparer(settings.data_dir / "cache")
        self.fleet = LocalProcessFleet(
            data_dir=settings.data_dir,
            images=self.images,
            preparer=self.preparer,
            # Processes start and drain in real time whatever the server's clock.
            clock=SystemClock() if isinstance(clock, ScaledClock) else clock,
        )
        self.router = Router()
        self.upstream = Upstream()
        self.reconciler = Reconciler(self.store, self.fleet, self.router, clock)
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
        self.ctx = ControlContext(
            self.store,
            clock,
            Partition(settings.region, settings.account_id),
            notify=self.reconciler.poke,
        )
        self.plane = ControlPlane(self.ctx)
        self.cloudwatch = CloudWatch(self.ctx, max_body=settings.max_api_body_bytes)
        self.metrics = self.cloudwatch.metrics
        self.alarms = self.cloudwatch.alarms
        self.capture = CaptureProcess(clock, flush_interval_s=settings.capture_flush_interval_s)
        self.rollouts.alarms = alarm_check(self.alarms)
        self.components.alarms = alarm_check(self.alarms)
        wake_on_transitions(self.alarms, self.reconciler.poke)
        self.invocation_metrics = InvocationMetrics(self.metrics)
        self.shadows = ShadowMirror(
            self.router,
            self.upstream,
            self.invocation_metrics,
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
        self.invoker = Invoker(
            self.router,
            self.upstream,
            account_id=settings.account_id,
            region=settings.region,
            observer=self.invocation_metrics,
            capture=self.capture,
            shadows=self.shadows,
        )
        self.routes = Routes(
            prefixes=[
                ("/endpoints/", self.invoker),
                (PLAN_PATH, PlanPage(self.plane.endpoint_updates)),
                (PLACEMENT_PATH, PlacementPage(self.plane.inference_components)),
            ]
        )
        self.cloudwatch.install(self.routes)
        self.sagemaker = sagemaker_service(self.plane)
        self.app = App(self.sagemaker, self.routes, max_body=settings.max_api_body_bytes)

    async def start(self) -> None:
        """Start background work (the reconciler); called before the port opens."""
        # Files prepared for copies of a server that died (no process uses them now).
        await asyncio.to_thread(self.preparer.sweep)
        await self.cloudwatch.start()
        self.capture.start()
        await self.reconciler.start()

    async def stop(self) -> None:
        """Stop background work, every copy, and close the store."""
        try:
            await self.shadows.aclose()
            await self._close_capture()
            await self.cloudwatch.stop()
            self.components.close()
            await self.reconciler.stop()
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
    clock: Clock = SystemClock()
    if settings.clock_speed != 1.0:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        clock = ScaledClock.persistent(settings.data_dir / "clock.json", settings.clock_speed)
    moorage = Moorage(settings, clock)
    config = uvicorn.Config(
        moorage.app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # Each small response in one write (docs/benchmarks.md); moorage is
        # reached directly, never through a proxy whose headers it should trust.
        http=CoalescingHttpToolsProtocol,
        proxy_headers=False,
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it once it has shut down;
    # these no-op handlers let the cleanup below run instead of dying there.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    await moorage.start()
    try:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            port = settings.port
            for s in server.servers:
                for sock in s.sockets:
                    port = sock.getsockname()[1]
            url = f"http://{settings.host}:{port}"
            on_ready(url)
            for item in deploys:
                await deploy(moorage.sagemaker, item)
                print(how_to_invoke(url, item.name), flush=True)
        await task
    finally:
        await moorage.stop()
