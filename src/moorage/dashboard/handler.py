"""The dashboard's routes: ``GET /`` and everything under ``/ui/``.

| path | answer |
|---|---|
| ``GET /`` | the dashboard page with a live session, else the login page |
| ``GET /ui/static/NAME`` | a script or style of ``static/`` |
| ``POST /ui/login``, ``POST /ui/logout`` | :mod:`moorage.dashboard.login` |
| ``GET /ui/api/session`` | whether the page needs a login and can log out |
| ``GET /ui/api/endpoints`` | :mod:`moorage.dashboard.views.endpoints` |
| ``GET /ui/api/endpoint?name=E`` | :mod:`moorage.dashboard.views.endpoint` |
| ``GET /ui/api/metrics?name=E&minutes=M`` | :mod:`moorage.dashboard.views.metrics` |
| ``GET /ui/api/logs?name=E`` | :mod:`moorage.dashboard.views.logs` |

The gate (:mod:`moorage.api.gate`, :mod:`moorage.dashboard.access`) has
already decided who may ask; this module only answers, read-only. With
``--auth none`` the API needs no key, so neither does the dashboard.
"""

from __future__ import annotations

import logging
import urllib.parse

from moorage.api.http import Receive, Scope, Send
from moorage.auth.keys import KeyRing
from moorage.dashboard.access import API, LOGIN, LOGOUT, ROOT, STATIC, BrowserAccess
from moorage.dashboard.assets import load_assets
from moorage.dashboard.login import Login
from moorage.dashboard.login_limit import LoginLimiter
from moorage.dashboard.responses import HTML_TYPE, REVALIDATE, send, send_error, send_json
from moorage.dashboard.sessions import SessionTable
from moorage.dashboard.views.endpoint import endpoint_detail
from moorage.dashboard.views.endpoints import endpoint_list
from moorage.dashboard.views.logs import endpoint_logs
from moorage.dashboard.views.metrics import endpoint_metrics, window_minutes
from moorage.dashboard.views.sources import Sources
from moorage.errors import ServiceError, ValidationError

log = logging.getLogger(__name__)

MAX_NAME = 63  # SageMaker's endpoint names
_READ = ("GET", "HEAD")


def _query(scope: Scope) -> dict[str, str]:
    raw: bytes = scope.get("query_string", b"")
    try:
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("The query string is not valid URL-encoded UTF-8.") from None
    return dict(pairs)


def _name(query: dict[str, str]) -> str:
    name = query.get("name", "")
    if not 0 < len(name) <= MAX_NAME:
        raise ValidationError(f"name must be an endpoint name of 1 to {MAX_NAME} characters.")
    return name


class Dashboard:
    def __init__(self, sources: Sources, keys: KeyRing | None) -> None:
        self.sources = sources
        # None: ``--auth none``, every page is open to whoever passes the browser rules.
        self.open = keys is None
        self.sessions = SessionTable()
        self.access = BrowserAccess(self.sessions)
        self.login = Login(keys or KeyRing({}), self.sessions, LoginLimiter())
        self.assets = load_assets()

    async def __call__(self, scope: Scope, receive: Receive, send_: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        head = method == "HEAD"
        if method == "POST" and path == LOGIN:
            if self.open:
                await send_json(send_, {"signedIn": True})
                return
            await self.login.login(scope, receive, send_)
            return
        if method == "POST" and path == LOGOUT:
            await self.login.logout(scope, receive, send_)
            return
        if method not in _READ:
            await send_error(
                send_, 405, "UnknownOperationException", f"{method} is not allowed on {path}."
            )
            return
        if path == ROOT:
            signed_in = self.open or self.access.signed_in(scope)
            page = self.assets["index.html" if signed_in else "login.html"]
            await send(send_, 200, page.body, HTML_TYPE, head=head)
            return
        if path.startswith(STATIC):
            asset = self.assets.get(path[len(STATIC) :])
            if asset is None:
                await send_error(send_, 404, "ResourceNotFound", "No such dashboard file.")
                return
            await send(send_, 200, asset.body, asset.content_type, cache=REVALIDATE, head=head)
            return
        if path.startswith(API):
            await self._api(path[len(API) :], scope, send_, head)
            return
        await send_error(send_, 404, "UnknownOperationException", "No such dashboard page.")

    async def _api(self, name: str, scope: Scope, send_: Send, head: bool) -> None:
        sources = self.sources
        try:
            query = _query(scope)
            if name == "session":
                document: object = {"signedIn": True, "loginRequired": not self.open}
            elif name == "endpoints":
                document = endpoint_list(sources)
            elif name == "endpoint":
                document = endpoint_detail(sources, _name(query))
            elif name == "metrics":
                minutes = window_minutes(query.get("minutes"))
                endpoint = sources.plane.endpoints.get(_name(query))
                components = sources.plane.inference_components.on_endpoint(endpoint.name)
                document = endpoint_metrics(sources, endpoint, components, minutes)
            elif name == "logs":
                endpoint = sources.plane.endpoints.get(_name(query))
                components = sources.plane.inference_components.on_endpoint(endpoint.name)
                document = await endpoint_logs(sources, endpoint.name, [c.name for c in components])
            else:
                await send_error(send_, 404, "UnknownOperationException", "No such document.")
                return
        except ServiceError as exc:
            await send_error(send_, exc.status, exc.code, exc.message)
            return
        except Exception:
            log.exception("building the dashboard document %s failed", name)
            await send_error(
                send_, 500, "InternalFailure", "The dashboard could not read this document."
            )
            return
        await send_json(send_, document, head=head)
