"""What the request path needs of a capture writer.

Both :class:`~moorage.capture.writer.CaptureWriter` (writes from a thread of
the same process) and :class:`~moorage.capture.process.CaptureProcess`
(hands pairs to a writer process; what the server uses) provide it.
"""

from __future__ import annotations

from typing import Protocol

from moorage.capture.config import CaptureConfig


class CaptureQueue(Protocol):
    def sampled(self, config: CaptureConfig) -> bool:
        """Whether to capture this request (one random draw at the config's percentage)."""
        ...

    def offer(
        self,
        config: CaptureConfig,
        endpoint: str,
        variant: str,
        request_body: bytes,
        request_content_type: str | None,
        response_body: bytes,
        response_content_type: str | None,
        inference_id: str | None = None,
    ) -> bool:
        """Queue one pair; False if it was dropped. Never blocks, never raises."""
        ...
