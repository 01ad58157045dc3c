"""Invocations of multi-model containers and multi-container models.

:class:`~moorage.runtime.invoke.Invoker` hands a request here when its
variant runs such a model (:attr:`VariantRoute.hosted`) or when it carries
``X-Amzn-SageMaker-Target-Model`` or ``X-Amzn-SageMaker-Target-Container-Hostname``;
plain requests never come this way. What the picked group's copies run
decides:

- a **multi-model container** (``Mode`` ``MultiModel``): the request must
  name ``TargetModel``; the copy is chosen and the model loaded by
  :class:`~moorage.runtime.multi_model.manager.MultiModels`, and the request
  goes to the container's ``POST /models/{name}/invoke``;
- a **serial inference pipeline** (several ``Containers``): the body goes
  to the first container, each answer to the next as its request, typed
  with the ``Content-Type`` the previous container answered; the caller's
  ``Accept`` goes to the last container only (the others answer in their
  default type, ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``), ``CustomAttributes``
  to each. The first container that does not answer 2xx ends the chain with
  a ``ModelError`` naming it. A multi-model container in the chain loads its
  ``TargetModel`` as above. Each call is recorded as ``ContainerLatency``;
- **containers invoked directly** (``InferenceExecutionConfig.Mode``
  ``Direct``): ``TargetContainerHostname`` must name one of them, and only
  that container sees the request; its metrics are also recorded per
  container (:class:`~moorage.monitoring.multi_model_metrics.ContainerMetrics`).

SageMaker's errors: ``TargetModel`` on an endpoint that is not multi-model,
a multi-model request without it, ``TargetContainerHostname`` on an endpoint
not invoked directly, missing or naming no container of one, are each a
``ValidationError``; a ``TargetModel`` that cannot be fetched is a
``ValidationError`` (``Failed to download model data ...``), one that does
not fit the instance's memory too, one whose load fails a ``ModelError``, and
one still loading when the request's time is up ``ModelNotReadyException``.
Streamed invocations of these models are refused. The answer is sent,
captured and counted (``ModelLatency`` covers every container) as
:meth:`Invoker._invoke` does for a plain copy.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moorage.api.http import Send, new_request_id
from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.locations import LocationKind, parse_location
from moorage.fleet.base import Copy
from moorage.monitoring.multi_model_metrics import ContainerMetrics
from moorage.runtime import errors
from moorage.runtime.errors import RuntimeError_
from moorage.runtime.multi_model.files import FetchFailed
from moorage.runtime.multi_model.manager import DoesNotFit, LoadFailed, MultiModels, NotReady
from moorage.runtime.multi_model.names import check_target
from moorage.runtime.multi_model.residency import Resident
from moorage.runtime.snapshot import EndpointRoute, GroupRoute, VariantRoute, pick_copy
from moorage.runtime.upstream import CopyBroken, CopyTimeout, CopyUnavailable, Reply

if TYPE_CHECKING:
    from moorage.runtime.invoke import Invoker, Request

TARGET_MODEL = "x-amzn-sagemaker-target-model"
TARGET_HOST = "x-amzn-sagemaker-target-container-hostname"
# HTTP status a ModelError is recorded with when the copy broke off or timed out.
_MODEL_FAILURE = 424


class _Retry(Exception):
    """The copy could not be reached: the request may go to another one."""


@dataclass
class _Trace:
    """What a request used, for metrics and errors even when it fails half-way."""

    whole: Copy | None = None
    answered_by: Copy | None = None
    upstream_started: float = 0.0
    # A direct invocation: the container called, and how long it took.
    direct: Copy | None = None
    direct_latency: float = 0.0


class HostedModels:
    def __init__(self, models: MultiModels, containers: ContainerMetrics) -> None:
        self.models = models
        self.containers = containers
        self.rng = random.Random()

    async def invoke(
        self,
        invoker: Invoker,
        request: Request,
        route: EndpointRoute,
        variant: VariantRoute,
        send: Send,
        started: float,
    ) -> None:
        group = variant.pick_group(self.rng)
        if group is None:
            raise errors.service_unavailable(
                f"Variant {variant.name} of endpoint {route.name} has no instance ready to serve."
            )
        spec = group.copies[0].spec
        headers = request.headers
        target = headers.get(TARGET_MODEL)
        host = headers.get(TARGET_HOST)
        multi = spec.multi_model is not None or any(m.multi_model for m in spec.containers)
        if target is not None and not multi:
            raise errors.validation_error(
                f"Endpoint {route.name} is not a multi-model endpoint and does not support "
                "target model header."
            )
        if host is not None and not spec.direct:
            raise errors.validation_error(
                f"Endpoint {route.name} is not configured for direct invocation and does not "
                "support target container hostname header."
            )
        if not multi and not spec.containers:
            # A plain copy in a variant that is changing kind (a blue/green update).
            await invoker._invoke(request, route, variant, send, started)
            return
        if request.stream:
            # Checked first: InvokeEndpointWithResponseStream has no TargetModel to send.
            raise errors.validation_error(
                f"Endpoint {route.name} hosts a multi-model or multi-container model, whose "
                "answers are not streamed: use InvokeEndpoint."
            )
        if multi and target is None:
            raise errors.validation_error(
                f"Request {new_request_id()} is missing a target model header."
            )
        if target is not None:
            check_target(target)
        forward = invoker._forward_headers(request)
        deadline = asyncio.get_running_loop().time() + invoker.timeout_s
        trace = _Trace()
        try:
            reply = await self._serve(
                invoker, route, variant, group, request.body, forward, deadline, trace
            )
        except CopyTimeout:
            self._observe_failure(invoker, route, variant, trace, started)
            raise errors.model_timeout(variant.name, invoker.timeout_s) from None
        except CopyBroken as exc:
            self._observe_failure(invoker, route, variant, trace, started)
            culprit = trace.answered_by or trace.whole
            assert culprit is not None  # broken answers come from a copy called
            raise errors.broken_answer(
                variant=variant.name,
                reason=str(exc),
                log_stream_arn=invoker.log_stream_arn(route, culprit),
            ) from None
        await self._answer(invoker, request, route, variant, reply, trace, send, started)

    # -- serving ----------------------------------------------------------------

    async def _serve(
        self,
        invoker: Invoker,
        route: EndpointRoute,
        variant: VariantRoute,
        group: GroupRoute,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
        trace: _Trace,
    ) -> Reply:
        excluded: Copy | None = None
        for attempt in range(2):
            copies = tuple(c for c in group.copies if c is not excluded)
            whole = self._pick(copies, variant, headers)
            if whole is None:
                break
            trace.whole = whole
            whole.inflight += 1
            try:
                if whole.spec.direct:
                    return await self._direct(invoker, route, whole, body, headers, deadline, trace)
                if whole.spec.containers:
                    return await self._serial(invoker, route, whole, body, headers, deadline, trace)
                return await self._single(
                    invoker, route, whole, whole, body, headers, deadline, trace
                )
            except _Retry:
                if attempt == 1:
                    break
                excluded = whole
            finally:
                whole.inflight -= 1
        raise errors.service_unavailable(
            f"Variant {variant.name} of endpoint {route.name} could not be reached."
        )

    def _pick(
        self, copies: tuple[Copy, ...], variant: VariantRoute, headers: Mapping[str, str]
    ) -> Copy | None:
        target = headers.get(TARGET_MODEL)
        if target is not None:
            return self.models.pick(copies, target, _multi_model_process)
        return pick_copy(copies, variant.routing, self.rng)

    async def _single(
        self,
        invoker: Invoker,
        route: EndpointRoute,
        whole: Copy,
        process: Copy,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
        trace: _Trace,
    ) -> Reply:
        """One call of ``process``: through its multi-model contract when it is one."""
        loop = asyncio.get_running_loop()
        spec = process.spec.multi_model
        trace.answered_by = process
        if spec is None:
            trace.upstream_started = trace.upstream_started or time.perf_counter()
            return await self._call(invoker, process, body, headers, "/invocations", deadline)
        target = headers[TARGET_MODEL]
        for attempt in range(2):
            resident = await self._acquire(invoker, route, process, target, deadline)
            ok = False
            try:
                trace.upstream_started = trace.upstream_started or time.perf_counter()
                reply = await self._call(
                    invoker, process, body, headers, f"/models/{resident.name}/invoke", deadline
                )
                ok = 200 <= reply.status < 300
            finally:
                self.models.release(process, spec, resident, ok)
            if reply.status == 404 and attempt == 0 and loop.time() < deadline:
                # The container no longer has it (SageMaker's contract): load it again.
                self.models.lost(process, target)
                continue
            return reply
        raise AssertionError("unreachable")

    async def _acquire(
        self, invoker: Invoker, route: EndpointRoute, process: Copy, target: str, deadline: float
    ) -> Resident:
        spec = process.spec.multi_model
        assert spec is not None
        try:
            return await self.models.acquire(process, spec, target, deadline)
        except NotReady:
            raise RuntimeError_(
                "ModelNotReadyException",
                f"Model {target} is still being downloaded or loaded into endpoint {route.name}; "
                "retry the request.",
                429,
            ) from None
        except DoesNotFit as exc:
            raise errors.validation_error(str(exc)) from None
        except FetchFailed as exc:
            raise errors.validation_error(_download_failed(exc)) from None
        except LoadFailed as exc:
            if exc.status == 0:
                raise _Retry() from None
            raise errors.model_error(
                variant=process.spec.variant,
                status=exc.status,
                message=exc.message,
                log_stream_arn=invoker.log_stream_arn(route, exc.copy),
            ) from None

    async def _serial(
        self,
        invoker: Invoker,
        route: EndpointRoute,
        whole: Copy,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
        trace: _Trace,
    ) -> Reply:
        members = whole.members
        accept = headers.get("accept")
        content_type = headers.get("content-type")
        reply: Reply | None = None
        for index, member in enumerate(members):
            hop = {k: v for k, v in headers.items() if k not in ("accept", "content-type")}
            if content_type is not None:
                hop["content-type"] = content_type
            if index == len(members) - 1 and accept is not None:
                hop["accept"] = accept
            member.inflight += 1
            called = time.perf_counter()
            try:
                reply = await self._single(
                    invoker, route, whole, member, body, hop, deadline, trace
                )
            except (CopyUnavailable, _Retry):
                # Nothing ran yet only if this is the first container.
                if index == 0:
                    raise _Retry() from None
                raise CopyBroken(
                    f"container {member.spec.container} could not be reached"
                ) from None
            finally:
                member.inflight -= 1
            self._container_called(member, reply.status, time.perf_counter() - called)
            if not 200 <= reply.status < 300:
                return reply
            body = reply.body
            content_type = reply.headers.get("content-type", "application/octet-stream")
        assert reply is not None
        return reply

    async def _direct(
        self,
        invoker: Invoker,
        route: EndpointRoute,
        whole: Copy,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
        trace: _Trace,
    ) -> Reply:
        host = headers.get(TARGET_HOST)
        names = [m.spec.container or "" for m in whole.members]
        if host is None:
            raise errors.validation_error(
                f"Endpoint {route.name} is a multi-container endpoint with direct invocation: "
                f"TargetContainerHostname must name one of its containers ({', '.join(names)})."
            )
        member = next((m for m in whole.members if m.spec.container == host), None)
        if member is None:
            raise errors.validation_error(
                f"TargetContainerHostname {host} does not exist on endpoint {route.name}; its "
                f"containers are {', '.join(names)}."
            )
        member.inflight += 1
        trace.direct = member
        called = time.perf_counter()
        try:
            reply = await self._single(
                invoker, route, whole, member, body, headers, deadline, trace
            )
        except CopyUnavailable:
            raise _Retry() from None
        finally:
            member.inflight -= 1
            trace.direct_latency = time.perf_counter() - called
        return reply

    async def _call(
        self,
        invoker: Invoker,
        process: Copy,
        body: bytes,
        headers: dict[str, str],
        path: str,
        deadline: float,
    ) -> Reply:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise CopyTimeout()
        try:
            return await invoker.upstream.invoke(process, body, headers, remaining, path=path)
        except CopyUnavailable:
            if process.parent is None:
                raise _Retry() from None
            raise

    # -- answering ----------------------------------------------------------------

    def _container_called(
        self, member: Copy, status: int, latency_s: float, overhead_s: float | None = None
    ) -> None:
        spec = member.spec
        self.containers.called(
            spec.endpoint, spec.variant, spec.container or "", status, latency_s, overhead_s
        )

    def _direct_called(self, trace: _Trace, status: int, started: float) -> None:
        """A direct invocation's per-container metrics, its overhead included."""
        if trace.direct is not None:
            total = time.perf_counter() - started
            overhead = max(0.0, total - trace.direct_latency)
            self._container_called(trace.direct, status, trace.direct_latency, overhead)

    def _observe_failure(
        self,
        invoker: Invoker,
        route: EndpointRoute,
        variant: VariantRoute,
        trace: _Trace,
        started: float,
    ) -> None:
        if trace.whole is not None:
            upstream = trace.upstream_started or time.perf_counter()
            invoker._observe(route, variant, trace.whole, _MODEL_FAILURE, upstream, started)
        self._direct_called(trace, _MODEL_FAILURE, started)

    async def _answer(
        self,
        invoker: Invoker,
        request: Request,
        route: EndpointRoute,
        variant: VariantRoute,
        reply: Reply,
        trace: _Trace,
        send: Send,
        started: float,
    ) -> None:
        whole = trace.whole
        assert whole is not None
        invoker._observe(route, variant, whole, reply.status, trace.upstream_started, started)
        self._direct_called(trace, reply.status, started)
        await invoker.answer(
            request, route, variant, whole, reply, send, log_copy=trace.answered_by or whole
        )


def _multi_model_process(copy: Copy) -> Copy:
    """The process of ``copy`` that loads models: itself, or its multi-model container."""
    return next((m for m in copy.members if m.spec.multi_model is not None), copy)


def _download_failed(exc: FetchFailed) -> str:
    """SageMaker's message for a TargetModel it could not download, and moorage's cause."""
    try:
        location = parse_location(exc.url)
    except (ArtifactError, ValueError):
        where = exc.url
    else:
        if location.kind is LocationKind.S3:
            where = f"bucket: {location.bucket}, key: {location.key}"
        else:
            where = f"path: {location.local_path}"
    return (
        f"Failed to download model data({where}). Please ensure that there is an object "
        "located at the URL and that the role passed to CreateModel has permissions to "
        f"download the model. ({exc.message})"
    )


__all__ = ["TARGET_HOST", "TARGET_MODEL", "HostedModels"]
