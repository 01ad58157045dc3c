"""InvokeEndpoint and InvokeEndpointWithResponseStream (SageMaker Runtime).

``POST /endpoints/{name}/invocations`` and ``.../invocations-response-stream``
on the server's one port. This is the hot path: the request is read with the
6 MB cap, routed on the endpoint's current snapshot (variant by weight or by
``X-Amzn-SageMaker-Target-Variant``, copy by the variant's routing strategy)
and proxied to the copy's ``/invocations``. A copy the request never reached
(connection refused, unreachable, or closed before the request was sent) is
replaced by another copy once; once the request has been sent, the model may
have run it, so a broken answer is the caller's ``ModelError``, never retried.
Answered invocations are offered to data capture (:mod:`moorage.runtime.capture`)
with the capture config of the fleet that answered, and copied to the
endpoint's shadow variants (:mod:`moorage.runtime.shadow`): an InvokeEndpoint
request once answered, a streamed one once its stream has ended normally.

In a router process (``moorage serve --workers``, :mod:`moorage.routers`) the
invoker only knows the endpoints that need nothing but a copy; a request for
any other endpoint, one naming a target model or container, or one that
would wait for a copy goes to the server process through ``handoff``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from moorage.api.http import BodyTooLarge, ClientDisconnected, Receive, Scope, Send, read_body
from moorage.api.service_models import SAGEMAKER_RUNTIME, operation_model
from moorage.api.validate import validate
from moorage.async_inference.routes import ASYNC_ONLY
from moorage.capture import CaptureConfig, CaptureQueue
from moorage.errors import ServiceError
from moorage.fleet.base import Copy
from moorage.logs.names import LogArns, copy_group, copy_stream
from moorage.runtime import errors
from moorage.runtime.capture import InvocationCapture, streamed_output
from moorage.runtime.components import NoCopies
from moorage.runtime.components import resolve as resolve_component
from moorage.runtime.errors import RuntimeError_
from moorage.runtime.hold import Holds
from moorage.runtime.hosted import HostedModels
from moorage.runtime.instances import InstanceCounts
from moorage.runtime.router import Router
from moorage.runtime.shadow import ShadowMirror
from moorage.runtime.snapshot import EndpointRoute, VariantRoute
from moorage.runtime.stream import stream_reply
from moorage.runtime.upstream import CopyBroken, CopyTimeout, CopyUnavailable, Reply, Upstream

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
INVOCATION_TIMEOUT_S = 60.0
# A copy that timed out or broke off its answer is recorded as the caller is
# answered then (ModelError, 424).
MODEL_FAILURE_STATUS = 424
# UpdateRollbackFailed: "in service with a mix of the old and new endpoint configurations".
SERVING_STATUSES = frozenset(
    {"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}
)

# Combinations of endpoint name and header values known to pass validation.
_VALID_CACHE_SIZE = 1024

# Request headers passed through to the copy.
_FORWARD = (
    "content-type",
    "accept",
    "x-amzn-sagemaker-custom-attributes",
    "x-amzn-sagemaker-inference-id",
    "x-amzn-sagemaker-target-model",
    "x-amzn-sagemaker-target-container-hostname",
    "x-amzn-sagemaker-enable-explanations",
    "x-amzn-sagemaker-session-id",
)
# Header → member of the runtime model's input shape, validated per request.
_HEADER_MEMBERS = {
    "content-type": "ContentType",
    "accept": "Accept",
    "x-amzn-sagemaker-accept": "Accept",
    "x-amzn-sagemaker-custom-attributes": "CustomAttributes",
    "x-amzn-sagemaker-target-model": "TargetModel",
    "x-amzn-sagemaker-target-variant": "TargetVariant",
    "x-amzn-sagemaker-target-container-hostname": "TargetContainerHostname",
    "x-amzn-sagemaker-inference-id": "InferenceId",
    "x-amzn-sagemaker-enable-explanations": "EnableExplanations",
    "x-amzn-sagemaker-inference-component": "InferenceComponentName",
}


_COMPONENT = "x-amzn-sagemaker-inference-component"
_TARGET_MODEL = "x-amzn-sagemaker-target-model"
_TARGET_HOST = "x-amzn-sagemaker-target-container-hostname"

# The request headers the router reads (all others are ignored), by raw name.
_READ = {name.encode(): name for name in (*_FORWARD, *_HEADER_MEMBERS)}


class InvocationObserver(Protocol):
    """Told about every invocation (metrics); must be cheap and never raise."""

    def invoked(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        status: int,
        model_latency_s: float,
        overhead_s: float,
        instances: int = 0,
    ) -> None:
        """An invocation answered by the fleet of ``config_name``; the variant has ``instances``."""
        ...

    def component_invoked(
        self,
        component: str,
        copies: int,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        """An invocation of an inference component, served by ``copies`` copies."""
        ...


class NoObserver:
    def invoked(
        self,
        endpoint: str,
        variant: str,
        config_name: str | None,
        status: int,
        model_latency_s: float,
        overhead_s: float,
        instances: int = 0,
    ) -> None:
        return None

    def component_invoked(
        self,
        component: str,
        copies: int,
        status: int,
        model_latency_s: float,
        overhead_s: float,
    ) -> None:
        return None


@dataclass(frozen=True)
class Request:
    endpoint: str
    stream: bool
    headers: Mapping[str, str]  # the headers the router reads, by lower-case name
    body: bytes
    # Headers the platform adds for the copy (an inference component's adapter).
    upstream: tuple[tuple[str, str], ...] = ()


class Invoker:
    def __init__(
        self,
        router: Router,
        upstream: Upstream,
        *,
        account_id: str,
        region: str,
        observer: InvocationObserver | None = None,
        timeout_s: float = INVOCATION_TIMEOUT_S,
        capture: CaptureQueue | None = None,
        shadows: ShadowMirror | None = None,
        holds: Holds | None = None,
        hosted: HostedModels | None = None,
        stored_status: Callable[[str], str | None] | None = None,
    ) -> None:
        self.router = router
        # Serves multi-model containers and multi-container models (runtime/hosted.py).
        self.hosted = hosted
        # An endpoint's status in the store, for one the router has no route
        # for yet (created a moment ago, before the reconciler's first pass).
        self.stored_status = stored_status
        # Requests that found no copy wait here while one starts (runtime/hold.py).
        self.holds = holds or Holds(router)
        # Copies answered requests to the endpoint's shadow variants, if it has any.
        self.shadows = shadows
        self.upstream = upstream
        self.account_id = account_id
        self.region = region
        self.observer: InvocationObserver = observer or NoObserver()
        self.instances = InstanceCounts(router)
        self.capture = InvocationCapture(capture)
        self.timeout_s = timeout_s
        # InvokeEndpointAsync (moorage.async_inference), set by the server.
        self.async_invocations: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
        # In a router process: sends a request (its scope and whole body) to
        # the server process, which answers it (moorage.routers).
        self.handoff: Callable[[Scope, bytes, Send], Awaitable[None]] | None = None
        self.rng = random.Random()
        self._invoke_shape = operation_model(SAGEMAKER_RUNTIME, "InvokeEndpoint").input_shape
        self._stream_shape = operation_model(
            SAGEMAKER_RUNTIME, "InvokeEndpointWithResponseStream"
        ).input_shape
        self._valid: set[tuple[object, ...]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            request = await self._parse(scope, receive, send)
            if request is None:
                return
            if self.handoff is not None and self._needs_server(request):
                await self.handoff(scope, request.body, send)
                return
            route = self._route(request)
            if route.component_based or _COMPONENT in request.headers:
                try:
                    variant, request = self._component(route, request)
                except NoCopies as found:
                    if self.handoff is not None:
                        # Held (and perhaps a scale-out asked for) by the server process.
                        await self.handoff(scope, request.body, send)
                        return
                    variant, request = await self._held_component(route, request, found)
            else:
                variant = self._variant(route, request)
            if variant.serverless is not None:
                await self._serverless(request, route, variant, send, started)
            elif (
                variant.hosted
                or _TARGET_MODEL in request.headers
                or _TARGET_HOST in request.headers
            ):
                # Multi-model containers and multi-container models (runtime/hosted.py).
                await self._hosted(request, route, variant, send, started)
            elif request.stream:
                await self._stream(request, route, variant, send, started)
            else:
                await self._invoke(request, route, variant, send, started)
        except RuntimeError_ as exc:
            await _send_error(send, exc)
        except ServiceError as exc:
            await _send_error(send, errors.validation_error(exc.message))
        except ClientDisconnected:
            return
        except Exception:
            log.exception("invocation failed unexpectedly")
            await _send_error(
                send, RuntimeError_("InternalFailure", "An internal error occurred.", 500)
            )

    async def _parse(self, scope: Scope, receive: Receive, send: Send) -> Request | None:
        parts = scope["path"].split("/")
        if (
            scope["method"] != "POST"
            or len(parts) != 4
            or parts[3] not in ("invocations", "invocations-response-stream")
        ):
            if (
                len(parts) == 4
                and parts[3] == "async-invocations"
                and scope["method"] == "POST"
                and self.async_invocations is not None
            ):
                await self.async_invocations(scope, receive, send)
                return None
            raise RuntimeError_(
                "UnknownOperationException", f"No route for {scope['method']} {scope['path']}.", 404
            )
        stream = parts[3] == "invocations-response-stream"
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = _READ.get(key.lower())
            if name is not None:
                headers[name] = value.decode("latin-1")
        try:
            body = await read_body(receive, MAX_PAYLOAD_BYTES)
        except BodyTooLarge:
            raise errors.validation_error(
                f"Request payload exceeds the maximum allowed size of {MAX_PAYLOAD_BYTES} bytes."
            ) from None
        self._validate(stream, parts[2], headers, body)
        return Request(parts[2], stream, headers, body)

    def _needs_server(self, request: Request) -> bool:
        """Whether a router process leaves ``request`` to the server process."""
        return (
            self.router.get(request.endpoint) is None
            or _TARGET_MODEL in request.headers
            or _TARGET_HOST in request.headers
        )

    def _validate(self, stream: bool, endpoint: str, headers: dict[str, str], body: bytes) -> None:
        # The outcome depends only on the endpoint name and these headers (any
        # bytes Body passes), so a combination found valid is not walked
        # through the shape again.
        key = (stream, endpoint, *headers.items())
        if key in self._valid:
            return
        raw: dict[str, object] = {"EndpointName": endpoint}
        for header, member in _HEADER_MEMBERS.items():
            value = headers.get(header)
            if value is not None and not (stream and header == "accept"):
                raw[member] = value
        raw["Body"] = body
        validate(self._stream_shape if stream else self._invoke_shape, raw)
        if len(self._valid) >= _VALID_CACHE_SIZE:
            self._valid.clear()
        self._valid.add(key)

    def _route(self, request: Request) -> EndpointRoute:
        route = self.router.get(request.endpoint)
        if route is None:
            status = self.stored_status(request.endpoint) if self.stored_status else None
            if status is None:
                raise errors.endpoint_not_found(request.endpoint, self.account_id)
            raise errors.validation_error(
                f"Endpoint {request.endpoint} of account {self.account_id} is not in service "
                f"(its status is {status})."
            )
        if route.status not in SERVING_STATUSES:
            if route.status == ASYNC_ONLY:
                raise errors.validation_error(
                    f"Endpoint {request.endpoint} of account {self.account_id} is configured "
                    "for asynchronous inference; invoke it with InvokeEndpointAsync."
                )
            raise errors.validation_error(
                f"Endpoint {request.endpoint} of account {self.account_id} is not in service "
                f"(its status is {route.status})."
            )
        return route

    def _variant(self, route: EndpointRoute, request: Request) -> VariantRoute:
        target = request.headers.get("x-amzn-sagemaker-target-variant")
        if target is not None:
            variant = route.by_variant.get(target)
            if variant is None:
                raise errors.validation_error(
                    f"The variant {target} does not exist on endpoint {route.name}."
                )
            return variant
        picked = route.pick_variant(self.rng)
        if picked is None:
            raise errors.service_unavailable(
                f"Endpoint {route.name} has no instance ready to serve; try again shortly."
            )
        return picked

    def _component(self, route: EndpointRoute, request: Request) -> tuple[VariantRoute, Request]:
        """The copies of the inference component the request names (runtime/components.py)."""
        component = resolve_component(
            route,
            self.router.components(route.name),
            request.headers.get(_COMPONENT),
            request.headers.get("x-amzn-sagemaker-target-variant"),
        )
        return component.variant_route, replace(request, upstream=component.upstream_headers)

    async def _held_component(
        self, route: EndpointRoute, request: Request, found: NoCopies
    ) -> tuple[VariantRoute, Request]:
        component = await self.holds.component(
            route,
            request.headers.get(_COMPONENT),
            request.headers.get("x-amzn-sagemaker-target-variant"),
            found,
        )
        return component.variant_route, replace(request, upstream=component.upstream_headers)

    async def _serverless(
        self,
        request: Request,
        route: EndpointRoute,
        variant: VariantRoute,
        send: Send,
        started: float,
    ) -> None:
        """A serverless variant: admitted under its MaxConcurrency, a copy started if none."""
        gate = variant.serverless
        assert gate is not None
        if gate.inflight >= gate.max_concurrency:
            raise errors.throttled(
                f"Rate exceeded: variant {variant.name} of endpoint {route.name} is serving "
                f"its MaxConcurrency of {gate.max_concurrency} concurrent invocations."
            )
        gate.inflight += 1
        gate.admitted += 1
        try:
            if not variant.serving:
                variant = await self.holds.variant(route, variant)
            if request.stream:
                await self._stream(request, route, variant, send, started)
            else:
                await self._invoke(request, route, variant, send, started)
        finally:
            gate.inflight -= 1

    async def _hosted(
        self,
        request: Request,
        route: EndpointRoute,
        variant: VariantRoute,
        send: Send,
        started: float,
    ) -> None:
        if self.hosted is None:
            raise errors.validation_error(
                f"Endpoint {route.name} serves neither multi-model nor multi-container models."
            )
        await self.hosted.invoke(self, request, route, variant, send, started)

    def _forward_headers(self, request: Request) -> dict[str, str]:
        headers = {h: request.headers[h] for h in _FORWARD if h in request.headers}
        if request.stream and "x-amzn-sagemaker-accept" in request.headers:
            headers["accept"] = request.headers["x-amzn-sagemaker-accept"]
        elif request.stream:
            headers.pop("accept", None)
        headers.update(request.upstream)
        return headers

    def log_stream_arn(self, route: EndpointRoute, copy: Copy) -> str:
        """The copy's log stream, which the Logs API serves (docs/logs.md)."""
        spec = copy.spec
        group = copy_group(spec.endpoint, spec.component)
        stream = copy_stream(
            spec.endpoint, spec.variant, spec.component, spec.copy_id, spec.log_stream
        )
        return LogArns(self.region, self.account_id).stream(group.name, stream)

    def _pick(self, variant: VariantRoute, route: EndpointRoute, exclude: Copy | None) -> Copy:
        copy = variant.pick_copy(self.rng, exclude)
        if copy is None:
            raise errors.service_unavailable(
                f"Variant {variant.name} of endpoint {route.name} has no instance ready to serve."
            )
        return copy

    async def _invoke(
        self,
        request: Request,
        route: EndpointRoute,
        variant: VariantRoute,
        send: Send,
        started: float,
    ) -> None:
        headers = self._forward_headers(request)
        copy = self._pick(variant, route, None)
        reply: Reply | None = None
        upstream_started = time.perf_counter()
        for attempt in range(2):
            copy.inflight += 1
            upstream_started = time.perf_counter()
            try:
                reply = await self.upstream.invoke(copy, request.body, headers, self.timeout_s)
                break
            except CopyUnavailable:
                if attempt == 1:
                    raise errors.service_unavailable(
                        f"Variant {variant.name} of endpoint {route.name} could not be reached."
                    ) from None
                copy = self._pick(variant, route, copy)
            except CopyTimeout:
                self._observe(route, variant, copy, MODEL_FAILURE_STATUS, upstream_started, started)
                raise errors.model_timeout(variant.name, self.timeout_s) from None
            except CopyBroken as exc:
                self._observe(route, variant, copy, MODEL_FAILURE_STATUS, upstream_started, started)
                raise errors.broken_answer(
                    variant=variant.name,
                    reason=str(exc),
                    log_stream_arn=self.log_stream_arn(route, copy),
                ) from None
            finally:
                copy.inflight -= 1
        assert reply is not None
        self._observe(route, variant, copy, reply.status, upstream_started, started)
        if route.shadows and self.shadows is not None:
            self.shadows.mirror(route, variant.name, headers, request.body, reply)
        await self.answer(request, route, variant, copy, reply, send)

    async def answer(
        self,
        request: Request,
        route: EndpointRoute,
        variant: VariantRoute,
        copy: Copy,
        reply: Reply,
        send: Send,
        log_copy: Copy | None = None,
    ) -> None:
        """Send a copy's answer to the caller (a ``ModelError`` unless 2xx), and capture it.

        ``log_copy``: whose log the error names, if not ``copy``'s.
        """
        if not 200 <= reply.status < 300:
            raise errors.model_error(
                variant=variant.name,
                status=reply.status,
                message=reply.body.decode("utf-8", "replace")[:2048],
                log_stream_arn=self.log_stream_arn(route, log_copy or copy),
            )
        content_type = reply.headers.get("content-type", "application/json")
        out = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(reply.body)).encode()),
            (b"x-amzn-invoked-production-variant", variant.name.encode()),
        ]
        custom = reply.headers.get("x-amzn-sagemaker-custom-attributes")
        if custom is not None:
            out.append((b"x-amzn-sagemaker-custom-attributes", custom.encode("latin-1")))
        capture = self._endpoint_capture(route, variant, copy)
        if capture is not None:
            self.capture.offer(
                capture,
                route.name,
                variant.name,
                request.headers,
                request.body,
                reply.body,
                content_type,
            )
        await send({"type": "http.response.start", "status": 200, "headers": out})
        await send({"type": "http.response.body", "body": reply.body})

    def _endpoint_capture(
        self, route: EndpointRoute, variant: VariantRoute, copy: Copy
    ) -> CaptureConfig | None:
        """The endpoint config's capture of this answer, if sampled.

        None when a running inference experiment captures the answer to the
        same destination already (:meth:`ShadowMirror.covers`): one record
        per answer, never two.
        """
        capture = self.capture.decide(variant, copy)
        shadows = self.shadows
        if (
            capture is not None
            and route.shadows
            and shadows is not None
            and shadows.covers(route.name, capture)
        ):
            return None
        return capture

    def _observe(
        self,
        route: EndpointRoute,
        variant: VariantRoute,
        copy: Copy,
        status: int,
        upstream_started: float,
        started: float,
    ) -> None:
        now = time.perf_counter()
        model = now - upstream_started
        overhead = max(0.0, now - started - model)
        try:
            # The answering fleet's config is a dimension too, at all times (as on SageMaker).
            self.observer.invoked(
                route.name,
                variant.name,
                _config_of(variant, copy),
                status,
                model,
                overhead,
                self.instances.of(route.name, variant),
            )
            if variant.component is not None:
                copies = sum(len(g.copies) for g in variant.groups)
                self.observer.component_invoked(variant.component, copies, status, model, overhead)
        except Exception:
            log.exception("invocation observer failed")

    async def _stream(
        self,
        request: Request,
        route: EndpointRoute,
        variant: VariantRoute,
        send: Send,
        started: float,
    ) -> None:
        headers = self._forward_headers(request)
        copy = self._pick(variant, route, None)
        shadows = self.shadows if route.shadows else None
        # An inference experiment's capture of this answer (its DataStorageConfig).
        experiment = None if shadows is None else shadows.production_capture(route)
        for attempt in range(2):
            capture = self._endpoint_capture(route, variant, copy)
            output = streamed_output(capture, experiment)
            try:
                ended = await stream_reply(
                    self, request, route, variant, copy, headers, send, started, output
                )
            except CopyUnavailable:
                if attempt == 1:
                    raise errors.service_unavailable(
                        f"Variant {variant.name} of endpoint {route.name} could not be reached."
                    ) from None
                copy = self._pick(variant, route, copy)
                continue
            if not ended:
                return
            if capture is not None and output is not None and output.complete:
                self.capture.offer(
                    capture,
                    route.name,
                    variant.name,
                    request.headers,
                    request.body,
                    output.body,
                    output.content_type,
                )
            if shadows is not None:
                shadows.mirror_stream(
                    route, variant.name, headers, request.body, output, experiment
                )
            return


def _config_of(variant: VariantRoute, copy: Copy) -> str | None:
    for group in variant.groups:
        if copy in group.copies:
            return group.config_name
    return None


async def _send_error(send: Send, exc: RuntimeError_) -> None:
    body = exc.body()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-errortype", exc.code.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
