"""Routes and settings as the server sends them to its router processes."""

from __future__ import annotations

import json
from pathlib import Path

from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy, CopyPlacement, CopySpec
from moorage.routers.wire import (
    RouteBook,
    direct,
    encode_line,
    endpoint_message,
    settings_from,
    settings_message,
)
from moorage.runtime.components import ComponentRoute
from moorage.runtime.serverless_gate import ServerlessGate
from moorage.runtime.snapshot import EndpointRoute, GroupRoute, ShadowRoute, VariantRoute
from moorage.settings import Settings


def copy(copy_id: str, port: int, **spec: object) -> Copy:
    made = Copy(CopySpec(copy_id, "ep", "AllTraffic", "img", None, **spec))  # type: ignore[arg-type]
    made.port = port
    made.unix_socket = f"/run/{copy_id}.sock"
    made.secret = "s3cret" if port == 2 else None
    return made


BLUE = copy("blue-1", 1, log_stream="AllTraffic/i-1")
GREEN = copy("green-1", 2, placement=CopyPlacement("instance-7"), component="comp")


def variant(*groups: GroupRoute, **extra: object) -> VariantRoute:
    return VariantRoute("AllTraffic", 1.0, Routing.RANDOM, groups, **extra)  # type: ignore[arg-type]


def endpoint(*variants: VariantRoute, status: str = "Updating", **extra: object) -> EndpointRoute:
    return EndpointRoute.build("Ep", status, variants, component_based=False, **extra)  # type: ignore[arg-type]


def through_the_pipe(book: RouteBook, message: dict[str, object]) -> tuple[object, object]:
    return book.apply(json.loads(encode_line(message)))


def test_a_blue_green_route_arrives_whole() -> None:
    route = endpoint(
        variant(GroupRoute("c1", 0.75, (BLUE,)), GroupRoute("c2", 0.25, (GREEN,))),
    )
    message, copies = endpoint_message("ep", route, None)
    assert copies == {"blue-1": BLUE, "green-1": GREEN}
    book = RouteBook()
    got, table = through_the_pipe(book, message)
    assert table is None
    assert isinstance(got, EndpointRoute)
    assert (got.name, got.status, got.component_based) == ("Ep", "Updating", False)
    (v,) = got.variants
    assert [(g.config_name, g.share) for g in v.groups] == [("c1", 0.75), ("c2", 0.25)]
    blue, green = (g.copies[0] for g in v.groups)
    assert (blue.copy_id, blue.port, blue.unix_socket, blue.secret) == (
        "blue-1",
        1,
        "/run/blue-1.sock",
        None,
    )
    assert blue.spec.log_stream == "AllTraffic/i-1"
    assert green.secret == "s3cret" and green.spec.placement == CopyPlacement("instance-7")
    assert got.by_variant["AllTraffic"] is v


def test_component_tables_arrive_with_their_adapters() -> None:
    route = EndpointRoute.build("ep", "InService", (), component_based=True)
    table = {
        "comp": ComponentRoute("comp", "AllTraffic", "cfg", Routing.RANDOM, (GREEN,), 1),
        "lora": ComponentRoute(
            "lora", "AllTraffic", "cfg", Routing.RANDOM, (GREEN,), 1, adapter="l1", base="comp"
        ),
    }
    message, copies = endpoint_message("ep", route, table)
    assert list(copies) == ["green-1"]
    got, got_table = through_the_pipe(RouteBook(), message)
    assert isinstance(got, EndpointRoute) and got.component_based
    assert isinstance(got_table, dict)
    lora = got_table["lora"]
    assert (lora.adapter, lora.base, lora.desired_copies) == ("l1", "comp", 1)
    # One object per copy, shared by every component that names it.
    assert lora.copies[0] is got_table["comp"].copies[0]


def test_copies_keep_their_requests_in_flight_across_messages() -> None:
    book = RouteBook()
    first, _ = endpoint_message("ep", endpoint(variant(GroupRoute("c1", 1.0, (BLUE,)))), None)
    through_the_pipe(book, first)
    book.copies["blue-1"].inflight = 2
    second, _ = endpoint_message(
        "ep", endpoint(variant(GroupRoute("c1", 1.0, (BLUE, GREEN)))), None
    )
    through_the_pipe(book, second)
    assert book.copies["blue-1"].inflight == 2
    # Out of every route: kept while requests are on it, forgotten after.
    third, _ = endpoint_message("ep", endpoint(variant(GroupRoute("c2", 1.0, (GREEN,)))), None)
    through_the_pipe(book, third)
    assert set(book.copies) == {"blue-1", "green-1"}
    book.copies["blue-1"].inflight = 0
    through_the_pipe(book, third)
    assert set(book.copies) == {"green-1"}


def test_only_endpoints_that_need_nothing_but_a_copy_are_direct() -> None:
    plain = variant(GroupRoute("c1", 1.0, (BLUE,)))
    assert direct(endpoint(plain))
    assert not direct(endpoint(plain, status="Creating"))
    assert not direct(endpoint(plain, shadows=(ShadowRoute(plain, 0.5),)))
    assert not direct(endpoint(variant(serverless=ServerlessGate(5))))
    hosted = copy("mc-1", 3, containers=(BLUE.spec,))
    assert not direct(endpoint(variant(GroupRoute("c1", 1.0, (hosted,)))))
    message, copies = endpoint_message("ep", endpoint(plain, status="Creating"), None)
    assert message == {"t": "endpoint", "key": "ep", "route": None} and copies == {}
    assert RouteBook().apply(message) == (None, None)


def test_settings_survive_the_pipe() -> None:
    settings = Settings(
        port=0,
        data_dir=Path("/tmp/d"),
        allowed_hosts=("a.example",),
        file_roots=(Path("/srv"), Path("/data")),
        tls_cert=Path("/c.pem"),
        workers=3,
    )
    assert settings_from(json.loads(encode_line(settings_message(settings)))) == settings
