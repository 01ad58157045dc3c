"""Loading models on demand into a copy: one load per model, LRU eviction, models in use kept.

:class:`MultiModels` runs against a fake container (it records every load
and unload, and can hold a load until told) and a fake preparer (each
archive is a folder holding ``size`` bytes), with a copy whose instance has
a few MiB of memory, so that its budget is reached in a few models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from moorage.clock import FakeClock
from moorage.domain.model import ModelData, MultiModelData
from moorage.fleet.base import Copy, CopyPlacement, CopySpec, CopyState
from moorage.fleet.prepare import PrepareError
from moorage.monitoring.multi_model_metrics import MultiModelMetrics
from moorage.monitoring.store import MetricStore
from moorage.runtime.multi_model.client import Answer, ContainerModels
from moorage.runtime.multi_model.files import FetchFailed
from moorage.runtime.multi_model.manager import DoesNotFit, LoadFailed, MultiModels
from moorage.runtime.multi_model.names import container_name

MIB = 1024 * 1024
PREFIX = "s3://bucket/models"


class FakeContainer(ContainerModels):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self.gate: asyncio.Event | None = None
        self.failing: set[str] = set()
        self.names: dict[str, str] = {}

    async def load(self, copy: Copy, name: str, path: str, target: str, timeout_s: float) -> Answer:
        self.calls.append(("load", target))
        self.names[name] = target
        if self.gate is not None:
            await self.gate.wait()
        if target in self.failing:
            return Answer(500, f"model_fn of {target} raised")
        return Answer(200, "{}")

    async def unload(self, copy: Copy, name: str, target: str, timeout_s: float) -> Answer:
        self.calls.append(("unload", target))
        return Answer(200, "{}")

    async def close(self) -> None:
        pass

    def of(self, kind: str) -> list[str]:
        return [target for k, target in self.calls if k == kind]


class FakePreparer:
    """Each model archive is a folder with one file of the size ``sizes`` gives it."""

    def __init__(self, root: Path, sizes: dict[str, int]) -> None:
        self.root = root
        self.sizes = sizes
        self.fetches: list[str] = []

    def model_dir(self, data: ModelData | None, *, timeout_s: float, use_cache: bool) -> Path:
        assert data is not None
        target = data.url[len(PREFIX) + 1 :]
        self.fetches.append(target)
        if target not in self.sizes:
            raise PrepareError(f"no object at {data.url}")
        folder = self.root / container_name(target)
        folder.mkdir(exist_ok=True)
        (folder / "weights.bin").write_bytes(bytes(self.sizes[target]))
        return folder


class Harness:
    def __init__(self, tmp_path: Path, sizes: dict[str, int], *, memory_mib: int, cache: bool):
        self.container = FakeContainer()
        self.preparer = FakePreparer(tmp_path, sizes)
        clock = FakeClock()
        self.store = MetricStore(clock)
        self.models = MultiModels(
            self.preparer,  # type: ignore[arg-type]
            clock,
            MultiModelMetrics(self.store),
            client=self.container,
        )
        self.spec = MultiModelData(PREFIX, cache=cache)
        self.copy = Copy(
            CopySpec(
                copy_id="c-1",
                endpoint="ep",
                variant="AllTraffic",
                image="image",
                model_data=None,
                placement=CopyPlacement("i-1", memory_mib=memory_mib),
                multi_model=self.spec,
            )
        )
        self.copy.state = CopyState.READY

    async def use(self, target: str) -> None:
        """One request: acquire, then release as answered."""
        resident = await self.acquire(target)
        self.models.release(self.copy, self.spec, resident, True)

    async def acquire(self, target: str) -> Any:
        deadline = asyncio.get_running_loop().time() + 30
        return await self.models.acquire(self.copy, self.spec, target, deadline)

    def loaded(self) -> list[str]:
        return [r.target for r in self.models.process(self.copy).residency]


def run(
    tmp_path: Path,
    sizes: dict[str, int],
    scenario: Callable[[Harness], Awaitable[None]],
    *,
    memory_mib: int = 3,
    cache: bool = True,
) -> Harness:
    harness = Harness(tmp_path, sizes, memory_mib=memory_mib, cache=cache)
    asyncio.run(scenario(harness))
    return harness


ONE_MIB = {name: MIB for name in ("a", "b", "c", "d")}


def test_concurrent_first_requests_share_one_fetch_and_one_load(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.container.gate = asyncio.Event()
        waiting = [asyncio.ensure_future(h.acquire("a")) for _ in range(8)]
        for _ in range(20):
            await asyncio.sleep(0)
        h.container.gate.set()
        residents = await asyncio.gather(*waiting)
        assert len({id(r) for r in residents}) == 1 and residents[0].in_use == 8

    h = run(tmp_path, ONE_MIB, scenario)
    assert h.container.calls == [("load", "a")]
    assert h.preparer.fetches == ["a"]


def test_the_least_recently_used_idle_model_makes_room(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        for target in ("a", "b", "c", "a", "d"):
            await h.use(target)
        assert h.loaded() == ["c", "a", "d"]
        await h.use("b")  # loaded again from local disk: fetched once only
        assert h.loaded() == ["a", "d", "b"]

    h = run(tmp_path, ONE_MIB, scenario)
    assert h.container.of("unload") == ["b", "c"]
    assert h.container.of("load") == ["a", "b", "c", "d", "b"]
    assert h.preparer.fetches == ["a", "b", "c", "d"]


def test_a_model_in_use_is_never_unloaded_a_load_waits_for_one_to_be_released(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        held_a = await h.acquire("a")
        held_b = await h.acquire("b")
        loading_c = asyncio.ensure_future(h.acquire("c"))
        for _ in range(50):
            await asyncio.sleep(0)
        assert not loading_c.done() and h.container.of("unload") == []
        h.models.release(h.copy, h.spec, held_b, True)
        resident_c = await loading_c
        assert h.container.of("unload") == ["b"]  # a is still in use
        h.models.release(h.copy, h.spec, held_a, True)
        h.models.release(h.copy, h.spec, resident_c, True)
        assert h.loaded() == ["a", "c"]

    run(tmp_path, ONE_MIB, scenario, memory_mib=2)


def test_models_larger_than_the_budget_missing_or_failing_are_refused_and_not_kept(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(DoesNotFit, match=r"more than the 3\.0 MiB"):
            await h.acquire("huge")
        h.container.failing.add("a")
        with pytest.raises(LoadFailed) as failed:
            await h.acquire("a")
        assert failed.value.status == 500
        h.container.failing.clear()
        await h.use("a")  # a failed load is not remembered: tried again
        with pytest.raises(FetchFailed):
            await h.acquire("nowhere")
        assert h.loaded() == ["a"]

    h = run(tmp_path, {**ONE_MIB, "huge": 4 * MIB}, scenario)
    assert h.container.of("load") == ["a", "a"]
    counted = {m["target_model"]: m for m in h.models.document("ep")["models"]}
    assert set(counted) == {"a"} and counted["a"]["loads"] == 1


def test_caching_disabled_unloads_a_model_once_no_request_uses_it(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        for _ in range(2):
            await h.use("a")
            for _ in range(20):
                await asyncio.sleep(0)
            assert h.loaded() == []

    h = run(tmp_path, ONE_MIB, scenario, cache=False)
    assert h.container.calls == [("load", "a"), ("unload", "a")] * 2
