"""The time limit on making model data ready.

SageMaker bounds downloading *and* extracting a model's data by the production
variant's ``ModelDataDownloadTimeoutInSeconds``. The fetch and extraction
loops check a :class:`Deadline` between chunks, so a worker thread stops on
its own even when its caller has stopped waiting. Time comes from the
injected :class:`~moorage.clock.Clock`.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.artifacts.errors import ArtifactError
from moorage.clock import Clock, SystemClock

SETTING = "ModelDataDownloadTimeoutInSeconds"


@dataclass(frozen=True)
class Deadline:
    clock: Clock
    timeout_s: float
    expires_at: float

    @classmethod
    def after(cls, timeout_s: float, clock: Clock | None = None) -> Deadline:
        clock = clock or SystemClock()
        return cls(clock, timeout_s, clock.now() + timeout_s)

    def remaining(self) -> float:
        return self.expires_at - self.clock.now()

    def check(self, url: str) -> None:
        """Raise if the time is up; ``url`` names the artifact in the message."""
        if self.clock.now() > self.expires_at:
            raise ArtifactError(
                f"model artifact {url} was not ready within {SETTING} "
                f"({self.timeout_s:g} s): downloading and extracting it took longer",
                url=url,
            )
