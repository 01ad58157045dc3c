"""The per-request capture decision.

SageMaker captures ``InitialSamplingPercentage`` percent of an endpoint's
requests (an inference experiment's ``DataStorageConfig``: all of them). The
decision is one random draw per request, made on the request path before
the bodies are kept, so it must be cheap: one draw, no lock. The random
source is injectable so that tests can make the draws predictable.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from moorage.capture.config import CaptureConfig


class Sampler:
    """Decides which requests to capture.

    ``draw`` returns a float in ``[0, 1)`` (``random.Random().random`` by
    default); a request is captured when ``draw() * 100 < percentage``.
    """

    def __init__(self, draw: Callable[[], float] | None = None) -> None:
        self._draw = draw or random.Random().random

    def sampled(self, config: CaptureConfig) -> bool:
        if not config.enabled or not (config.capture_input or config.capture_output):
            return False
        percentage = config.sampling_percentage
        if percentage >= 100:
            return True
        if percentage <= 0:
            return False
        return self._draw() * 100 < percentage
