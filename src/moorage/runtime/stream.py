"""InvokeEndpointWithResponseStream: copy chunks → event-stream PayloadParts.

The copy streams its answer with chunked transfer encoding; each chunk is
forwarded at once as a ``PayloadPart`` event. If the copy answers non-2xx
before streaming, or breaks off before its answer starts, the caller gets a
``ModelError`` like InvokeEndpoint; if the stream breaks midway, a
``ModelStreamError`` event (``ErrorCode`` ``StreamBroken``) ends it (the HTTP
status is already 200 by then, as with SageMaker). Neither is retried: the
model may have run the request. When the invocation is
captured, the chunks are also kept in a
:class:`~moorage.runtime.capture.StreamedOutput`, complete only if the
stream ended normally. :func:`stream_reply` says whether it did: only then
is the request copied to the endpoint's shadow variants.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohttp

from moorage.api.eventstream import model_stream_error_event, payload_part_event
from moorage.api.http import Send
from moorage.fleet.base import Copy
from moorage.runtime import errors
from moorage.runtime.capture import StreamedOutput
from moorage.runtime.snapshot import EndpointRoute, VariantRoute
from moorage.runtime.upstream import CopyBroken, CopyTimeout

if TYPE_CHECKING:
    from moorage.runtime.invoke import Invoker, Request


async def stream_reply(
    invoker: Invoker,
    request: Request,
    route: EndpointRoute,
    variant: VariantRoute,
    copy: Copy,
    headers: Mapping[str, str],
    send: Send,
    started: float,
    output: StreamedOutput | None = None,
) -> bool:
    """Forward the copy's streamed answer to the caller; True if the stream ended normally."""
    ended = False
    copy.inflight += 1
    upstream_started = time.perf_counter()
    try:
        try:
            async with invoker.upstream.stream(
                copy, request.body, headers, invoker.timeout_s
            ) as response:
                if not 200 <= response.status < 300:
                    try:
                        text = (await response.read()).decode("utf-8", "replace")[:2048]
                    except (aiohttp.ClientError, OSError) as exc:
                        raise CopyBroken(str(exc) or type(exc).__name__) from None
                    invoker._observe(
                        route, variant, copy, response.status, upstream_started, started
                    )
                    raise errors.model_error(
                        variant=variant.name,
                        status=response.status,
                        message=text,
                        log_stream_arn=invoker.log_stream_arn(route, copy),
                    )
                out = [
                    (b"content-type", b"application/vnd.amazon.eventstream"),
                    (b"x-amzn-invoked-production-variant", variant.name.encode()),
                    (
                        b"x-amzn-sagemaker-content-type",
                        response.headers.get("Content-Type", "application/octet-stream").encode(),
                    ),
                ]
                custom = response.headers.get("X-Amzn-SageMaker-Custom-Attributes")
                if custom is not None:
                    out.append((b"x-amzn-sagemaker-custom-attributes", custom.encode("latin-1")))
                await send({"type": "http.response.start", "status": 200, "headers": out})
                if output is not None:
                    output.content_type = response.headers.get("Content-Type")
                try:
                    # One PayloadPart per HTTP chunk of the copy (a token stays one event).
                    async for chunk, _ in response.content.iter_chunks():
                        if chunk:
                            if output is not None:
                                output.add(chunk)
                            await send(
                                {
                                    "type": "http.response.body",
                                    "body": payload_part_event(chunk),
                                    "more_body": True,
                                }
                            )
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    leftover = unread_bytes(response.content)
                    if leftover:
                        await send(
                            {
                                "type": "http.response.body",
                                "body": payload_part_event(leftover),
                                "more_body": True,
                            }
                        )
                    await send(
                        {
                            "type": "http.response.body",
                            "body": model_stream_error_event(
                                f"The model stream of variant {variant.name} ended "
                                f"unexpectedly: {exc or type(exc).__name__}",
                                "StreamBroken",
                            ),
                            "more_body": True,
                        }
                    )
                else:
                    ended = True
                    if output is not None:
                        output.finish()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                invoker._observe(route, variant, copy, 200, upstream_started, started)
                return ended
        except CopyTimeout:
            invoker._observe(route, variant, copy, 424, upstream_started, started)
            raise errors.model_timeout(variant.name, invoker.timeout_s) from None
        except CopyBroken as exc:
            invoker._observe(route, variant, copy, 424, upstream_started, started)
            raise errors.broken_answer(
                variant=variant.name,
                reason=str(exc),
                log_stream_arn=invoker.log_stream_arn(route, copy),
            ) from None
    finally:
        copy.inflight -= 1


def unread_bytes(content: aiohttp.StreamReader) -> bytes:
    """What the copy sent before its stream broke that was never read out.

    aiohttp's ``StreamReader`` raises a stored error before it hands out
    buffered data: when a last chunk and the broken connection both arrive
    while the forwarding loop is busy sending the previous event, that chunk
    would be lost. It is read from the reader's buffer instead (its
    ``_buffer`` deque and ``_buffer_offset``; nothing when they are absent).
    """
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    offset = getattr(content, "_buffer_offset", 0)
    data = b"".join(bytes(part) for part in buffer)
    return data[offset:] if isinstance(offset, int) else data
