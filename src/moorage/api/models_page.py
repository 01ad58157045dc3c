"""``GET /moorage/models/{endpoint}``: the models a multi-model endpoint holds, and their counts.

The answer is :meth:`moorage.runtime.multi_model.manager.MultiModels.document`:
per copy, the models loaded in it (least recently used first) with their
memory footprints, and per model its invocations, cache hits, loads and
unloads since the server started (docs/multi-model.md, "Seeing the models").
An endpoint that does not exist is SageMaker's ``ValidationException``; one
that hosts no multi-model container has empty lists. ``moorage models`` is
the command-line client.
"""

from __future__ import annotations

from typing import Any

from moorage.api.endpoint_page import EndpointPage
from moorage.control.endpoints import EndpointsService
from moorage.runtime.multi_model.manager import MultiModels

PATH = "/moorage/models/"


def models_page(endpoints: EndpointsService, models: MultiModels) -> EndpointPage:
    def build(name: str) -> dict[str, Any]:
        endpoint = endpoints.get(name)
        document = models.document(endpoint.name)
        document["endpoint_status"] = endpoint.status.value
        return document

    return EndpointPage(PATH, build, "the models")
