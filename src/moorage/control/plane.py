"""The control plane: every resource service, built from one context."""

from __future__ import annotations

from moorage.control.context import ControlContext
from moorage.control.endpoint_configs import EndpointConfigsService
from moorage.control.endpoint_updates import EndpointUpdatesService
from moorage.control.endpoints import EndpointsService
from moorage.control.experiments import ExperimentsService
from moorage.control.inference_components import InferenceComponentsService
from moorage.control.models import ModelsService
from moorage.control.tags import TagsService


class ControlPlane:
    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx
        self.models = ModelsService(ctx)
        self.endpoint_configs = EndpointConfigsService(ctx)
        self.endpoints = EndpointsService(ctx)
        self.endpoint_updates = EndpointUpdatesService(ctx, self.endpoints)
        self.inference_components = InferenceComponentsService(ctx, self.endpoints)
        self.tags = TagsService(ctx)
        self.experiments = ExperimentsService(ctx)
