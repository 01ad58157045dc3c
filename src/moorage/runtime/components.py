"""Routing to inference components: which copies serve each component of an endpoint.

The component runner (``deploy/components.py``) publishes, per endpoint, an
immutable table of :class:`ComponentRoute` (through
:meth:`moorage.runtime.router.Router.publish_components`), swapped
atomically like the endpoint's own snapshot. :func:`resolve` is what
``InvokeEndpoint`` does with the ``InferenceComponentName`` header: it finds
the component and hands back a :class:`VariantRoute` over the component's
ready copies (picked by the variant's RoutingConfig), plus the headers the
copy must receive (``X-Moorage-Adapter`` for an adapter component, which is
served by its base component's copies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy
from moorage.runtime import errors
from moorage.runtime.errors import RuntimeError_
from moorage.runtime.snapshot import EndpointRoute, GroupRoute, VariantRoute

ADAPTER_HEADER = "x-moorage-adapter"

MISSING_HEADER = (
    "Inference Component Name header is required for endpoints to which you plan to deploy "
    "inference components. Please include Inference Component Name header or consider using "
    "SageMaker models."
)
NOT_A_COMPONENT_ENDPOINT = (
    "Inference Component Name header is not allowed for endpoints to which you dont plan to "
    "deploy inference components. Please remove the Inference Component Name header and try "
    "again."
)


@dataclass(frozen=True)
class ComponentRoute:
    name: str
    variant: str
    config_name: str
    routing: Routing
    copies: tuple[Copy, ...]
    desired_copies: int
    # For an adapter component: its name in the base's model servers, and the base.
    adapter: str | None = None
    base: str | None = None
    variant_route: VariantRoute = field(init=False, compare=False)

    def __post_init__(self) -> None:
        group = GroupRoute(self.config_name, 1.0, self.copies)
        object.__setattr__(
            self,
            "variant_route",
            VariantRoute(self.variant, 1.0, self.routing, (group,), component=self.name),
        )

    @property
    def upstream_headers(self) -> tuple[tuple[str, str], ...]:
        return ((ADAPTER_HEADER, self.adapter),) if self.adapter else ()


# Lower-cased component name -> route.
ComponentTable = Mapping[str, ComponentRoute]


@dataclass
class NoCopies(RuntimeError_):
    """The component exists but no copy of it is ready: the request may be held.

    ``component`` is the one invoked, ``serving`` the one whose copies serve
    it (an adapter's base, else itself); ``at_zero``: the serving one's copy
    count is 0, no copy is coming unless something scales it
    (:mod:`moorage.runtime.hold`).
    """

    component: str = ""
    serving: str = ""
    at_zero: bool = False


def resolve(
    route: EndpointRoute,
    table: ComponentTable | None,
    name: str | None,
    target_variant: str | None,
) -> ComponentRoute:
    """The component an invocation names, or the runtime error SageMaker would answer."""
    if not route.component_based:
        raise errors.validation_error(NOT_A_COMPONENT_ENDPOINT)
    if name is None:
        raise errors.validation_error(MISSING_HEADER)
    component = table.get(name.lower()) if table else None
    if component is None:
        raise errors.validation_error(
            f"Inference component {name} does not exist on endpoint {route.name} or is not "
            "in service."
        )
    if target_variant is not None and target_variant != component.variant:
        raise errors.validation_error(
            f"Inference component {name} is on variant {component.variant}, "
            f"not on the TargetVariant {target_variant}."
        )
    if not component.copies:
        raise _no_copies(component, route)
    return component


def _no_copies(component: ComponentRoute, route: EndpointRoute) -> NoCopies:
    if component.desired_copies == 0:
        whose = (
            f"its base inference component {component.base}"
            if component.base
            else "inference component " + component.name
        )
        return NoCopies(
            "ValidationError",
            f"Inference component {component.name} of endpoint {route.name} has no copies to "
            f"serve the request: the copy count of {whose} is 0. Raise it with "
            "UpdateInferenceComponentRuntimeConfig.",
            400,
            component=component.name,
            serving=component.base or component.name,
            at_zero=True,
        )
    return NoCopies(
        "ServiceUnavailable",
        f"Inference component {component.name} of endpoint {route.name} has no copy ready "
        "to serve; try again shortly.",
        503,
        component=component.name,
        serving=component.base or component.name,
    )
