"""One S3 client shared by a reader or writer's threads, made on first use.

botocore clients are thread-safe, and making one costs tens of
milliseconds, so each S3 user (artifact reader, capture sink, async
inference payloads) keeps one. A factory that fails (no region, a bad
endpoint setting) is reported through the user's own error type.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError


class SharedClient:
    def __init__(self, factory: Callable[[], Any], failure: Callable[[str], Exception]) -> None:
        self._factory = factory
        self._failure = failure
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The client; raises ``failure(reason)`` if it cannot be made."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._factory()
                except BotoCoreError as exc:
                    raise self._failure(f"the S3 client could not be created: {exc}") from None
            return self._client
