"""Which copies an InferenceComponentName reaches, and the errors when none can."""

from __future__ import annotations

import pytest

from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy, CopySpec
from moorage.runtime.components import (
    MISSING_HEADER,
    NOT_A_COMPONENT_ENDPOINT,
    ComponentRoute,
    resolve,
)
from moorage.runtime.errors import RuntimeError_
from moorage.runtime.snapshot import EndpointRoute

COPY = Copy(CopySpec("base-1-1", "ep", "AllTraffic", "img", None))
ENDPOINT = EndpointRoute.build("ep", "InService", (), component_based=True)


def route(name: str, copies: tuple[Copy, ...], desired: int, **extra: str) -> ComponentRoute:
    return ComponentRoute(name, "AllTraffic", "cfg", Routing.RANDOM, copies, desired, **extra)


TABLE = {
    "base": route("base", (COPY,), 1),
    "lora": route("lora", (COPY,), 1, adapter="lora.v2", base="base"),
    "empty": route("empty", (), 0),
    "idle-lora": route("idle-lora", (), 0, adapter="idle-lora", base="empty"),
    "starting": route("starting", (), 2),
}


def error(
    name: str | None, target: str | None = None, endpoint: EndpointRoute = ENDPOINT
) -> RuntimeError_:
    with pytest.raises(RuntimeError_) as caught:
        resolve(endpoint, TABLE, name, target)
    return caught.value


def test_a_component_is_reached_through_its_variant() -> None:
    found = resolve(ENDPOINT, TABLE, "BASE", None)
    assert found.variant_route.name == "AllTraffic"
    assert found.variant_route.live_groups[0].copies == (COPY,)
    assert found.upstream_headers == ()
    adapter = resolve(ENDPOINT, TABLE, "lora", "AllTraffic")
    assert adapter.upstream_headers == (("x-moorage-adapter", "lora.v2"),)


def test_what_cannot_be_reached_says_why() -> None:
    assert (error(None).code, error(None).message) == ("ValidationError", MISSING_HEADER)
    model_endpoint = EndpointRoute.build("ep", "InService", (), component_based=False)
    assert error("base", endpoint=model_endpoint).message == NOT_A_COMPONENT_ENDPOINT
    assert "nope does not exist on endpoint ep" in error("nope").message
    assert "not on the TargetVariant Other" in error("base", "Other").message
    assert error("empty").status == 400
    assert "the copy count of inference component empty is 0" in error("empty").message
    assert "its base inference component empty is 0" in error("idle-lora").message
    unavailable = error("starting")
    assert (unavailable.code, unavailable.status) == ("ServiceUnavailable", 503)
    assert "starting of endpoint ep has no copy ready" in unavailable.message
