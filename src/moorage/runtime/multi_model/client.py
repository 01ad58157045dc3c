"""Loading and unloading models in a multi-model container, over its HTTP contract.

The platform's side of SageMaker's multi-model container contract
(docs/multi-model.md, "The container contract"): ``POST /models``
``{"model_name", "url"}`` and ``DELETE /models/{model_name}``, each carrying
the original ``X-Amzn-SageMaker-Target-Model``. The built-in model server
(:mod:`moorage.container.multi_model`) answers it, and so must a mapped
image's server. Invocations do not come through here: they go through the
router's keep-alive pool (:class:`moorage.runtime.upstream.Upstream`) to
``/models/{model_name}/invoke``.

:func:`process_memory` reads what a copy's process tree holds in memory
(its resident set, children included), which the manager compares before and
after a load.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import aiohttp
import psutil

from moorage.fleet.base import Copy

TARGET_HEADER = "X-Amzn-SageMaker-Target-Model"


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (connection failed or timed out)
    text: str


class ContainerModels:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True)
            )
        return self._session

    async def load(self, copy: Copy, name: str, path: str, target: str, timeout_s: float) -> Answer:
        body = {"model_name": name, "url": path}
        return await self._call("POST", copy, "/models", target, timeout_s, body)

    async def unload(self, copy: Copy, name: str, target: str, timeout_s: float) -> Answer:
        path = "/models/" + urllib.parse.quote(name, safe="")
        return await self._call("DELETE", copy, path, target, timeout_s, None)

    async def _call(
        self,
        method: str,
        copy: Copy,
        path: str,
        target: str,
        timeout_s: float,
        body: dict[str, str] | None,
    ) -> Answer:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        headers = {TARGET_HEADER: target}
        try:
            async with self._client().request(
                method, copy.url + path, json=body, headers=headers, timeout=timeout
            ) as response:
                text = (await response.read()).decode("utf-8", "replace")
                return Answer(response.status, text[:2048])
        except TimeoutError:
            return Answer(0, f"{method} {path} did not answer within {timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(0, f"{method} {path} failed: {exc or type(exc).__name__}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def process_memory(pid: int | None) -> int:
    """Bytes resident in memory for ``pid`` and its children (0 if unreadable)."""
    if pid is None:
        return 0
    try:
        process = psutil.Process(pid)
        total = int(process.memory_info().rss)
        for child in process.children(recursive=True):
            try:
                total += int(child.memory_info().rss)
            except psutil.Error:
                continue
        return total
    except psutil.Error:
        return 0
