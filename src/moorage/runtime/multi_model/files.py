"""Models of multi-model endpoints on local disk: fetched once, kept for every copy.

SageMaker downloads a model "from the S3 bucket to that instance's storage
volume" on its first invocation there, and "models that are unloaded remain
on the instance's storage volume and can be loaded into the container's
memory later without being downloaded again". moorage's copies share one
machine, so :class:`ModelFiles` keeps one local copy per model archive
(``<ModelDataUrl>/<TargetModel>``) for all of them: fetched and unpacked
through the artifact cache (:mod:`moorage.fleet.prepare`, with its caps and
checks) the first time any copy needs it, and remembered, with its unpacked
size, until the server stops. A model is therefore not fetched again while
the server runs, even if a new object replaces it under the same name,
which is what AWS warns of ("Don't overwrite model artifacts in Amazon S3
because the old version of the model might still be loaded in the containers
or on the storage volume"): use a new name for a new version.

Concurrent requests for one archive share one fetch; a failed fetch is not
remembered, so the next request tries again.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from moorage.domain.model import ModelData
from moorage.fleet.prepare import PrepareError, Preparer


@dataclass(frozen=True)
class LocalModel:
    """One model archive, unpacked on local disk."""

    url: str
    path: Path
    size: int  # bytes unpacked


class FetchFailed(Exception):
    """The archive could not be fetched or unpacked; ``message`` says why."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.message = message


class ModelFiles:
    def __init__(self, preparer: Preparer) -> None:
        self._preparer = preparer
        self._known: dict[str, LocalModel] = {}
        self._fetching: dict[str, asyncio.Future[tuple[LocalModel, float]]] = {}

    def __len__(self) -> int:
        return len(self._known)

    async def get(self, url: str, timeout_s: float) -> tuple[LocalModel, float | None]:
        """The local copy of ``url`` and, if this call fetched it, the seconds that took."""
        known = self._known.get(url)
        if known is not None:
            return known, None
        fetching = self._fetching.get(url)
        if fetching is None:
            fetching = asyncio.ensure_future(self._fetch(url, timeout_s))
            self._fetching[url] = fetching
            fetching.add_done_callback(lambda done: self._fetched(url, done))
            fetched, seconds = await asyncio.shield(fetching)
            return fetched, seconds
        fetched, _ = await asyncio.shield(fetching)
        return fetched, None

    def _fetched(self, url: str, done: asyncio.Future[tuple[LocalModel, float]]) -> None:
        self._fetching.pop(url, None)
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone (timed out)

    def forget(self, url: str) -> None:
        """Fetch ``url`` again next time (its files went missing)."""
        self._known.pop(url, None)

    async def _fetch(self, url: str, timeout_s: float) -> tuple[LocalModel, float]:
        started = time.perf_counter()
        try:
            path = await asyncio.to_thread(
                self._preparer.model_dir, ModelData(url=url), timeout_s=timeout_s, use_cache=True
            )
        except PrepareError as exc:
            raise FetchFailed(url, str(exc)) from None
        size = await asyncio.to_thread(unpacked_size, path)
        local = LocalModel(url, path, size)
        self._known[url] = local
        return local, time.perf_counter() - started


def unpacked_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (links not followed)."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += info.st_size
    return total
