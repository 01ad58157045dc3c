"""Data capture on the request path: which invocations to capture, and handing them over.

The reconciler (:mod:`moorage.deploy.reconciler`) parses each endpoint
config's ``DataCaptureConfig`` once, with :class:`CaptureConfigs`, and puts
it into the routing snapshot as :attr:`GroupRoute.capture
<moorage.runtime.snapshot.GroupRoute.capture>`: a group's copies were built
from one config, so the config that served a request is the one whose
capture applies (during a blue/green update the blue and the green fleet
capture as their own configs say). The invoker
(:mod:`moorage.runtime.invoke`) asks :class:`InvocationCapture` once the
answering copy is known; sampled pairs go to the
:class:`~moorage.capture.CaptureQueue` (the server's is a
:class:`~moorage.capture.process.CaptureProcess`), which queues them and has
them written off the request path (``docs/data-capture.md``).

Only answered invocations (2xx) are captured. A streamed answer
(InvokeEndpointWithResponseStream) is captured as the concatenation of its
chunks once the stream has ended normally; :class:`StreamedOutput` keeps
the chunks meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from moorage.capture import CaptureConfig, CaptureConfigError, CaptureQueue
from moorage.domain.endpoint_config import EndpointConfig
from moorage.fleet.base import Copy
from moorage.runtime.snapshot import VariantRoute

log = logging.getLogger(__name__)

# A streamed answer longer than this is not captured (InvokeEndpoint's payload limit).
MAX_STREAMED_CAPTURE_BYTES = 6 * 1024 * 1024

_CONTENT_TYPE = "content-type"
_INFERENCE_ID = "x-amzn-sagemaker-inference-id"


class CaptureConfigs:
    """Each endpoint config's parsed ``DataCaptureConfig``, parsed once per config.

    A config deleted while an endpoint still runs on it keeps capturing as
    it did (as the endpoint keeps serving); one recreated under the same
    name is parsed again.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[float, CaptureConfig | None]] = {}

    def of(self, name: str, config: EndpointConfig | None) -> CaptureConfig | None:
        if config is None:
            known = self._parsed.get(name)
            return None if known is None else known[1]
        known = self._parsed.get(name)
        if known is not None and known[0] == config.created:
            return known[1]
        capture = None
        if config.capture:
            try:
                capture = CaptureConfig.from_data_capture_config(config.capture)
            except CaptureConfigError as exc:
                # CreateEndpointConfig refuses these; a config stored before
                # that check captures nothing rather than failing the endpoint.
                log.warning("endpoint config %s: data capture is off: %s", name, exc)
        self._parsed[name] = (config.created, capture)
        return capture


class StreamedOutput:
    """The chunks of a streamed answer, kept for capture (up to a limit)."""

    __slots__ = ("_chunks", "_keep", "_size", "complete", "content_type")

    def __init__(self, *, keep: bool = True) -> None:
        # keep=False (input-only capture) only tracks whether the stream completed.
        self._keep = keep
        self._chunks: list[bytes] = []
        self._size = 0
        self.content_type: str | None = None
        # Set once the stream has ended normally and within the limit.
        self.complete = False

    def add(self, chunk: bytes) -> None:
        if not self._keep:
            return
        self._size += len(chunk)
        if self._size <= MAX_STREAMED_CAPTURE_BYTES:
            self._chunks.append(chunk)
        else:
            self._chunks.clear()

    def finish(self) -> None:
        self.complete = self._size <= MAX_STREAMED_CAPTURE_BYTES

    @property
    def body(self) -> bytes:
        return b"".join(self._chunks)


def streamed_output(*configs: CaptureConfig | None) -> StreamedOutput | None:
    """What keeps a streamed answer captured with any of ``configs``; None when none captures.

    One answer serves every capture of it (the endpoint config's and an
    inference experiment's): its chunks are kept if any of them captures output.
    """
    wanted = [config for config in configs if config is not None]
    if not wanted:
        return None
    return StreamedOutput(keep=any(config.capture_output for config in wanted))


class InvocationCapture:
    """Decides per invocation whether to capture it, and offers the pair to the writer."""

    def __init__(self, writer: CaptureQueue | None) -> None:
        self.writer = writer

    def decide(self, variant: VariantRoute, copy: Copy) -> CaptureConfig | None:
        """The config to capture this invocation with; None if off or not sampled.

        Cheap when the variant captures nothing (one cached attribute read).
        """
        writer = self.writer
        if writer is None or not variant.capturing:
            return None
        group = variant.group_of(copy)
        config = None if group is None else group.capture
        if config is None or not writer.sampled(config):
            return None
        return config

    def offer(
        self,
        config: CaptureConfig,
        endpoint: str,
        variant: str,
        request_headers: Mapping[str, str],
        request_body: bytes,
        response_body: bytes,
        response_content_type: str | None,
    ) -> None:
        """Queue one pair (never blocks, never raises)."""
        assert self.writer is not None
        self.writer.offer(
            config,
            endpoint,
            variant,
            request_body,
            request_headers.get(_CONTENT_TYPE),
            response_body,
            response_content_type,
            request_headers.get(_INFERENCE_ID),
        )
