"""The pure parts of the port's limits: admission, eviction, timeouts, the fd budget.

Connections are fakes that say what they wait for; the event loop is a fake
whose clock the test moves. The protocol itself is exercised against a real
server in tests/api/test_http_limits.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from moorage.coalesce import CoalescingTransport
from moorage.http_limits import HttpLimits, connections_that_fit
from moorage.http_limits.admission import Admission, reserve_serves
from moorage.http_limits.connections import (
    WAIT_BODY,
    WAIT_HEAD,
    WAIT_IDLE,
    WAIT_SEND,
    Connections,
    Wait,
)


class FakeLoop:
    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        self.timers.append((self.now + delay, callback))
        return object()

    def advance(self, seconds: float) -> None:
        """Move the clock, running the timers that fall due on the way."""
        end = self.now + seconds
        while True:
            due = sorted((t for t in self.timers if t[0] <= end), key=lambda t: t[0])
            if not due:
                break
            when, callback = due[0]
            self.timers.remove(due[0])
            self.now = when
            callback()
        self.now = end


class Conn:
    def __init__(self, wait: Wait | None = (WAIT_HEAD, 0)) -> None:
        self.wait = wait
        self.expired: list[int] = []

    def watch(self) -> Wait | None:
        return self.wait

    def expire(self, wait: int) -> None:
        self.expired.append(wait)


LIMITS = HttpLimits(
    header_timeout_s=4,
    body_timeout_s=8,
    keep_alive_timeout_s=12,
    max_connections=2,
    reserve=1,
)


def timeouts(*, head: int, body: int, idle: int) -> HttpLimits:
    return HttpLimits(
        header_timeout_s=head, body_timeout_s=body, keep_alive_timeout_s=idle, max_connections=10
    )


def admitted(table: Connections, loop: FakeLoop, conn: Conn) -> Admission:
    return table.admit(conn, loop)  # type: ignore[arg-type]


def test_admission_normal_then_reserve_then_full() -> None:
    loop, table = FakeLoop(), Connections(LIMITS)
    conns = [Conn() for _ in range(4)]
    results = [admitted(table, loop, c) for c in conns]
    assert results == [Admission.NORMAL, Admission.NORMAL, Admission.RESERVE, Admission.FULL]
    assert len(table) == 3  # the refused one is not counted
    table.discard(conns[0])
    assert admitted(table, loop, Conn()) is Admission.RESERVE


def test_longest_idle_connection_makes_room() -> None:
    loop, table = FakeLoop(), Connections(LIMITS)
    first, second = Conn((WAIT_IDLE, 0)), Conn((WAIT_IDLE, 0))
    admitted(table, loop, first)
    admitted(table, loop, second)
    # second answered first, so it has been idle the longest.
    table.idle[second] = None
    table.idle[first] = None
    newcomer = Conn()
    assert admitted(table, loop, newcomer) is Admission.NORMAL
    assert second.expired == [WAIT_IDLE]
    assert first.expired == []
    assert len(table) == 2


def test_a_connection_busy_again_is_not_taken_for_idle() -> None:
    loop, table = FakeLoop(), Connections(LIMITS)
    busy, idle = Conn((WAIT_HEAD, 7)), Conn((WAIT_IDLE, 0))
    admitted(table, loop, busy)
    admitted(table, loop, idle)
    table.idle[busy] = None  # joined when it answered, then a request began
    table.idle[idle] = None
    assert admitted(table, loop, Conn()) is Admission.NORMAL
    assert busy.expired == []
    assert idle.expired == [WAIT_IDLE]


def test_each_wait_expires_after_its_own_timeout() -> None:
    loop, table = FakeLoop(), Connections(timeouts(head=4, body=8, idle=12))
    head, body, idle = Conn((WAIT_HEAD, 0)), Conn((WAIT_BODY, 10)), Conn((WAIT_IDLE, 0))
    send = Conn((WAIT_SEND, 70_000))
    for conn in (head, body, idle, send):
        admitted(table, loop, conn)
    loop.advance(3.9)
    assert head.expired == body.expired == idle.expired == send.expired == []
    loop.advance(1.2)  # checked every second at most
    assert head.expired == [WAIT_HEAD]
    assert body.expired == idle.expired == send.expired == []
    loop.advance(4.0)
    assert body.expired == [WAIT_BODY]
    assert send.expired == [WAIT_SEND]
    loop.advance(4.0)
    assert idle.expired == [WAIT_IDLE]
    assert len(table) == 0
    assert loop.timers == []  # the timer stops with the last connection


def test_progress_restarts_the_wait_and_busy_connections_are_left_alone() -> None:
    loop, table = FakeLoop(), Connections(timeouts(head=4, body=4, idle=4))
    body, working = Conn((WAIT_BODY, 10)), Conn(None)
    admitted(table, loop, body)
    admitted(table, loop, working)
    for received in range(11, 20):
        loop.advance(3)
        body.wait = (WAIT_BODY, received)
    assert body.expired == []
    loop.advance(6)
    assert body.expired == [WAIT_BODY]
    loop.advance(60)
    assert working.expired == []


def test_the_head_timeout_bounds_the_whole_head() -> None:
    loop, table = FakeLoop(), Connections(timeouts(head=4, body=4, idle=4))
    slow = Conn((WAIT_HEAD, 0))
    admitted(table, loop, slow)
    # More header bytes arrive, but the head that began at byte 0 is still open.
    loop.advance(5)
    assert slow.expired == [WAIT_HEAD]


@pytest.mark.parametrize(
    ("url", "served"),
    [
        (b"/healthz", True),
        (b"/metrics", True),
        (b"/", True),
        (b"/moorage/plan?x=1", True),
        (b"/service/GraniteServiceVersion20100801/operation/ListMetrics", True),
        (b"/endpoints/e/invocations", False),
        (b"/endpoints/e/invocations-response-stream", False),
        (b"/%65ndpoints/e/invocations", False),  # routed as an invocation once decoded
        (b"http://host:1/endpoints/e/invocations", False),
    ],
)
def test_the_reserve_serves_everything_but_invocations(url: bytes, served: bool) -> None:
    assert reserve_serves(url) is served


def test_connections_fit_the_open_file_limit() -> None:
    # Two descriptors per connection (client, model copy) and 256 for the rest.
    assert connections_that_fit(1024, 32) == 352
    assert connections_that_fit(4096, 32) == 1888
    assert connections_that_fit(2368, 32) == 1024
    assert connections_that_fit(300, 32) == 0


def test_check_interval_follows_the_shortest_timeout() -> None:
    assert HttpLimits().check_interval_s == 1.0
    assert HttpLimits(header_timeout_s=2).check_interval_s == 0.5


class Aborting:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.aborts = 0

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def abort(self) -> None:
        self.aborts += 1

    def is_closing(self) -> bool:
        return self.aborts > 0

    def get_write_buffer_size(self) -> int:
        return 1234


def test_writes_after_an_abort_go_nowhere() -> None:
    inner = Aborting()
    outer = CoalescingTransport(inner)  # type: ignore[arg-type]
    outer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    outer.abort()
    outer.write(b"hello")
    outer.close()
    outer.abort()
    assert inner.writes == []
    assert inner.aborts == 1
    assert outer.is_closing()
    assert outer.get_write_buffer_size() == 0
