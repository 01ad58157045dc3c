"""``GET /moorage/placement/{endpoint}``: where an endpoint's component copies run.

The answer is the document of :mod:`moorage.control.placement_document`
(per instance: its copies and the capacity left). Served by
:class:`~moorage.api.endpoint_page.EndpointPage`. ``moorage placement`` is the command-line client.
"""

from __future__ import annotations

from moorage.api.endpoint_page import EndpointPage
from moorage.control.inference_components import InferenceComponentsService
from moorage.control.placement_document import placement_document

PATH = "/moorage/placement/"


def placement_page(components: InferenceComponentsService) -> EndpointPage:
    return EndpointPage(PATH, lambda name: placement_document(components, name), "the placement")
