"""The handler pool's watch: when a pool is stuck, and what happens to requests behind it.

Real threads run the jobs; time is a number the test moves, and the test
calls ``check()`` where the model server's watch task would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from moorage.container.inline import FIRST_NEEDED, QUICK_S
from moorage.container.workers import PoolStuck, Workers

TIMEOUT_S = 10.0


class Held:
    """A job that holds its worker until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> str:
        self.started.set()
        self.release.wait(30)
        return "held"


def run(test: Callable[[Workers, list[float]], Awaitable[None]], size: int = 1) -> None:
    now = [0.0]
    executor = ThreadPoolExecutor(max_workers=size)
    workers = Workers(executor, size, TIMEOUT_S, clock=lambda: now[0])
    try:
        asyncio.run(test(workers, now))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


async def hold(workers: Workers) -> tuple[Held, asyncio.Task[str]]:
    held = Held()
    task = asyncio.create_task(workers.run(held))
    assert await asyncio.to_thread(held.started.wait, 10)
    return held, task


async def queued(workers: Workers, ran: list[str], name: str) -> asyncio.Task[None]:
    task = asyncio.create_task(workers.run(ran.append, name))
    await asyncio.sleep(0)  # submitted
    return task


def test_a_request_behind_workers_held_past_the_timeout_is_answered_504_and_never_runs() -> None:
    async def test(workers: Workers, now: list[float]) -> None:
        ran: list[str] = []
        held, holding = await hold(workers)
        waiting = await queued(workers, ran, "waiting")
        now[0] = TIMEOUT_S / 2
        workers.check()
        assert workers.stuck is None  # held, but not for longer than the timeout
        now[0] = TIMEOUT_S + 0.5
        workers.check()
        assert workers.stuck is not None and "SAGEMAKER_MODEL_SERVER_TIMEOUT (10 s)" in (
            workers.stuck
        )
        with pytest.raises(PoolStuck) as caught:
            await waiting
        assert caught.value.status == 504
        assert "No handler worker became free" in caught.value.message
        # Nobody waits any more, but the worker is still held: still stuck.
        workers.check()
        assert workers.stuck is not None
        held.release.set()
        assert await holding == "held"
        workers.check()
        assert workers.stuck is None
        assert await workers.run(lambda: 42) == 42
        assert ran == []

    run(test)


def test_only_requests_that_waited_longer_than_the_timeout_are_given_up() -> None:
    async def test(workers: Workers, now: list[float]) -> None:
        ran: list[str] = []
        held, holding = await hold(workers)
        early = await queued(workers, ran, "early")
        now[0] = 8.0
        late = await queued(workers, ran, "late")
        now[0] = TIMEOUT_S + 0.5
        workers.check()
        assert workers.stuck is not None
        with pytest.raises(PoolStuck):
            await early
        await asyncio.sleep(0.05)
        assert not late.done()
        held.release.set()
        await holding
        await late  # a worker freed up before it waited too long: it runs
        assert ran == ["late"]

    run(test)


def test_workers_held_past_the_timeout_with_nobody_waiting_are_not_stuck() -> None:
    async def test(workers: Workers, now: list[float]) -> None:
        helds = [await hold(workers) for _ in range(2)]
        now[0] = TIMEOUT_S * 3
        workers.check()
        assert workers.stuck is None
        for held, task in helds:
            held.release.set()
            await task

    run(test, size=2)


def test_a_pool_with_one_free_worker_is_not_stuck() -> None:
    async def test(workers: Workers, now: list[float]) -> None:
        held, holding = await hold(workers)
        now[0] = 5.0
        ran: list[str] = []
        # Two workers, one held since 0: the other takes queued work at once.
        await workers.run(ran.append, "served")
        now[0] = TIMEOUT_S * 3
        workers.check()
        assert workers.stuck is None
        assert ran == ["served"]
        held.release.set()
        await holding

    run(test, size=2)


def test_quick_calls_move_to_the_loop_and_a_slow_one_moves_them_back() -> None:
    async def scenario(workers: Workers, now: list[float]) -> None:
        loop_thread = threading.get_ident()
        where: list[bool] = []

        def quick() -> None:
            where.append(threading.get_ident() == loop_thread)

        for _ in range(FIRST_NEEDED + 3):
            await workers.run(quick)
        # The first calls prove themselves on the threads, then run inline.
        assert where == [False] * FIRST_NEEDED + [True] * 3

        def slow() -> None:
            where.append(threading.get_ident() == loop_thread)
            time.sleep(QUICK_S * 4)

        where.clear()
        await workers.run(slow)  # inline: it held the loop
        await workers.run(quick)
        assert where == [True, False]
        # Twice as many quick calls are needed before the loop is used again.
        assert workers.inline.needed == 2 * FIRST_NEEDED
        where.clear()
        for _ in range(2 * FIRST_NEEDED + 1):
            await workers.run(quick)
        assert where.count(True) == 2 and where[-2:] == [True, True]

    run(scenario)


def test_handlers_that_are_never_quick_stay_on_the_threads() -> None:
    async def scenario(workers: Workers, now: list[float]) -> None:
        loop_thread = threading.get_ident()
        where: list[bool] = []

        def slow() -> None:
            where.append(threading.get_ident() == loop_thread)
            time.sleep(QUICK_S * 4)

        for _ in range(FIRST_NEEDED * 2):
            await workers.run(slow)
        assert not any(where)

    run(scenario)
