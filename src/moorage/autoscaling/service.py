"""Application Auto Scaling, assembled: the API's services and the controller.

:class:`AutoScaling` is what the server builds (``moorage.server``): one
:class:`~moorage.autoscaling.records.Registry` over the store, the levers
over the SageMaker control plane, the activity log, the
:class:`~moorage.autoscaling.controller.Controller` (registered with the
alarm evaluator for policy ARNs), and the services whose methods are the
operation handlers (:mod:`moorage.api.autoscaling_api`).
"""

from __future__ import annotations

from moorage.autoscaling.activities import ActivityLog
from moorage.autoscaling.controller import Controller
from moorage.autoscaling.history import ActivitiesService
from moorage.autoscaling.levers import Levers
from moorage.autoscaling.policies import PoliciesService
from moorage.autoscaling.records import Registry
from moorage.autoscaling.resources import ResourceRef, ScalableDimension
from moorage.autoscaling.scheduled import ScheduledActionsService
from moorage.autoscaling.targets import TargetsService
from moorage.control.alarms import AlarmsService
from moorage.control.context import ControlContext
from moorage.control.plane import ControlPlane
from moorage.monitoring import AlarmEvaluator, MetricStore


class AutoScaling:
    def __init__(
        self,
        ctx: ControlContext,
        plane: ControlPlane,
        alarms: AlarmsService,
        evaluator: AlarmEvaluator,
        metrics: MetricStore,
    ) -> None:
        registry = Registry(ctx.store)
        levers = Levers(plane)
        self.activity_log = ActivityLog(ctx.store)
        self.controller = Controller(
            ctx.clock, registry, levers, self.activity_log, evaluator, metrics
        )
        self.policies = PoliciesService(ctx, registry, alarms, evaluator)
        self.targets = TargetsService(
            ctx, registry, levers, self.activity_log, self.controller, self.policies
        )
        self.scheduled = ScheduledActionsService(ctx, registry, self.controller)
        self.activities = ActivitiesService(self.activity_log)

    def wake_component(self, component: str) -> bool:
        """An invocation found ``component`` at 0 copies: scale it out if a target allows."""
        ref = ResourceRef(
            f"inference-component/{component}",
            ScalableDimension.COMPONENT_COPIES,
            component=component,
        )
        return self.controller.wake_from_zero(ref)

    async def start(self) -> None:
        """Run the controller (after the alarms were restored)."""
        await self.controller.start()

    async def stop(self) -> None:
        await self.controller.stop()
