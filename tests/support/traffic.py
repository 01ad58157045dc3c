"""Constant invocation traffic from several client threads, every answer recorded."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Answer:
    started: float
    finished: float
    tag: str | None
    error: str | None


class Traffic:
    """``with Traffic(runtime, "endpoint") as traffic: ...`` keeps ``clients`` threads invoking."""

    def __init__(
        self,
        runtime: Any,
        endpoint: str,
        *,
        clients: int = 8,
        seconds: float = 0.005,
        **invoke_args: Any,
    ) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        # More InvokeEndpoint parameters (e.g. InferenceComponentName).
        self.invoke_args = invoke_args
        self.clients = clients
        # How long the model takes over each request.
        self.body = json.dumps({"op": "sleep", "seconds": seconds})
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                reply = self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint,
                    ContentType="application/json",
                    Body=self.body,
                    **self.invoke_args,
                )
                tag = json.loads(reply["Body"].read())["tag"]
                self.answers.append(Answer(started, time.monotonic(), tag, None))
            except Exception as exc:
                self.answers.append(Answer(started, time.monotonic(), None, repr(exc)))

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    @property
    def failures(self) -> list[str]:
        return [a.error for a in self.answers if a.error is not None]

    def tags_between(self, start: float, end: float) -> set[str | None]:
        """Versions that answered requests sent after ``start`` and answered before ``end``."""
        return {a.tag for a in self.answers if a.started >= start and a.finished <= end}
