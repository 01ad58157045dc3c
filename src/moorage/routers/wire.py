"""The messages between the server process and its router processes.

Both directions are JSON lines on the router's standard input and output.
The server sends the settings first, then the routes of every endpoint,
``synced``, and from then on the routes of each endpoint that changes (the
whole endpoint: its snapshot, its component table and their copies). Only
*direct* endpoints are sent with their routes — in service, with no shadow
variant, no data capture, no serverless or multi-model or multi-container
variant — so a router knows exactly the endpoints it may serve alone; any
other endpoint is sent without routes, and its requests go to the server.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy, CopyPlacement, CopySpec, CopyState
from moorage.runtime.components import ComponentRoute, ComponentTable
from moorage.runtime.invoke import SERVING_STATUSES
from moorage.runtime.snapshot import EndpointRoute, GroupRoute, VariantRoute
from moorage.settings import Settings

Json = dict[str, Any]


def encode_line(message: Mapping[str, object]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


# Settings


def settings_message(settings: Settings) -> Json:
    fields: Json = {}
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = [str(v) if isinstance(v, Path) else v for v in value]
        fields[item.name] = value
    return {"t": "settings", "settings": fields}


def settings_from(message: Json) -> Settings:
    raw: Json = message["settings"]
    values: Json = {}
    for item in dataclasses.fields(Settings):
        if item.name not in raw:
            continue
        value = raw[item.name]
        kind = str(item.type)
        if value is not None and kind.startswith("Path"):
            value = Path(value)
        elif kind == "tuple[Path, ...]":
            value = tuple(Path(v) for v in value)
        elif kind.startswith("tuple"):
            value = tuple(value)
        values[item.name] = value
    return Settings(**values)


# Routes (server side)


def direct(route: EndpointRoute) -> bool:
    """Whether a router process may serve ``route``'s requests without the server."""
    return (
        route.status in SERVING_STATUSES
        and not route.shadows
        and not any(v.serverless is not None or v.hosted or v.capturing for v in route.variants)
    )


def endpoint_message(
    key: str, route: EndpointRoute | None, table: ComponentTable | None
) -> tuple[Json, dict[str, Copy]]:
    """The ``endpoint`` message for ``key``, and the copies it names by id."""
    copies: dict[str, Copy] = {}
    if route is None or not direct(route):
        return {"t": "endpoint", "key": key, "route": None}, copies

    def ids(members: tuple[Copy, ...]) -> list[str]:
        for copy in members:
            copies[copy.copy_id] = copy
        return [copy.copy_id for copy in members]

    variants = [
        {
            "name": v.name,
            "weight": v.weight,
            "routing": v.routing.value,
            "component": v.component,
            "groups": [
                {"config": g.config_name, "share": g.share, "copies": ids(g.copies)}
                for g in v.groups
            ],
        }
        for v in route.variants
    ]
    components = None
    if table is not None:
        components = {
            name: {
                "name": c.name,
                "variant": c.variant,
                "config": c.config_name,
                "routing": c.routing.value,
                "copies": ids(c.copies),
                "desired": c.desired_copies,
                "adapter": c.adapter,
                "base": c.base,
            }
            for name, c in table.items()
        }
    message: Json = {
        "t": "endpoint",
        "key": key,
        "route": {
            "name": route.name,
            "status": route.status,
            "component_based": route.component_based,
            "variants": variants,
        },
        "components": components,
        "copies": {copy_id: _copy_fields(copy) for copy_id, copy in copies.items()},
    }
    return message, copies


def _copy_fields(copy: Copy) -> Json:
    spec = copy.spec
    placement = spec.placement
    return {
        "endpoint": spec.endpoint,
        "variant": spec.variant,
        "component": spec.component,
        "log_stream": spec.log_stream,
        "instance": placement.instance_id if placement is not None else None,
        "host": copy.host,
        "port": copy.port,
        "unix": copy.unix_socket,
        "secret": copy.secret,
    }


# Routes (router side)


class RouteBook:
    """A router process's copies, kept across messages so their in-flight counts last."""

    def __init__(self) -> None:
        self.copies: dict[str, Copy] = {}
        # Endpoint key -> the copy ids its last message named.
        self._named: dict[str, set[str]] = {}

    def apply(self, message: Json) -> tuple[EndpointRoute | None, ComponentTable | None]:
        """The routes an ``endpoint`` message carries (None, None: leave it to the server)."""
        key: str = message["key"]
        raw = message.get("route")
        if raw is None:
            self._named.pop(key, None)
            self._forget()
            return None, None
        for copy_id, fields in message["copies"].items():
            self._copy(copy_id, fields)
        self._named[key] = set(message["copies"])
        self._forget()
        variants = tuple(
            VariantRoute(
                v["name"],
                float(v["weight"]),
                Routing(v["routing"]),
                tuple(
                    GroupRoute(
                        g["config"], float(g["share"]), tuple(self.copies[i] for i in g["copies"])
                    )
                    for g in v["groups"]
                ),
                component=v["component"],
            )
            for v in raw["variants"]
        )
        route = EndpointRoute.build(
            raw["name"], raw["status"], variants, component_based=raw["component_based"]
        )
        table: ComponentTable | None = None
        if message.get("components") is not None:
            table = {
                name: ComponentRoute(
                    c["name"],
                    c["variant"],
                    c["config"],
                    Routing(c["routing"]),
                    tuple(self.copies[i] for i in c["copies"]),
                    int(c["desired"]),
                    adapter=c["adapter"],
                    base=c["base"],
                )
                for name, c in message["components"].items()
            }
        return route, table

    def _copy(self, copy_id: str, fields: Json) -> None:
        copy = self.copies.get(copy_id)
        if copy is None:
            instance = fields["instance"]
            spec = CopySpec(
                copy_id=copy_id,
                endpoint=fields["endpoint"],
                variant=fields["variant"],
                image="",
                model_data=None,
                component=fields["component"],
                log_stream=fields["log_stream"],
                placement=CopyPlacement(instance) if instance is not None else None,
            )
            copy = self.copies[copy_id] = Copy(spec)
            copy.state = CopyState.READY
        copy.host = fields["host"]
        copy.port = int(fields["port"])
        copy.unix_socket = fields["unix"]
        copy.secret = fields["secret"]

    def _forget(self) -> None:
        """Drop copies no endpoint names any more once nothing is in flight on them."""
        named: set[str] = set().union(*self._named.values()) if self._named else set()
        for copy_id in [i for i, c in self.copies.items() if i not in named and c.inflight == 0]:
            del self.copies[copy_id]
