"""The durable queue of asynchronous requests: the store's records, indexed in memory.

Every change of a request's state is written to the store (records of kind
:data:`~moorage.async_inference.request.KIND`) before the change counts:
:meth:`AsyncQueue.accept` before InvokeEndpointAsync answers 202,
:meth:`~AsyncQueue.claim` before the model is invoked,
:meth:`~AsyncQueue.written` once the result object exists, and
:meth:`~AsyncQueue.done` (the record deleted) once nothing is left to do. A
write the store refuses raises, and the request keeps its previous state.

In memory the queue keeps, per endpoint, the waiting requests in order of
arrival (FIFO), the running ones, and the written ones whose notification
is still to be published. :meth:`AsyncQueue.load` rebuilds that from the
store after a start; requests found ``Running`` come back at the head of
their endpoint's queue marked ``recovered``, for the dispatcher to check
whether their result was written before running them again. The store is
the only code that touches the database; this module only calls it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from moorage.async_inference.request import KIND, AsyncRequest, Event, Outcome, State
from moorage.store.base import Store


@dataclass
class _Lane:
    """One endpoint's requests."""

    # Waiting, by seq; each with whether it was found running at a restart.
    waiting: list[tuple[int, AsyncRequest, bool]] = field(default_factory=list)
    running: dict[str, AsyncRequest] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.waiting and not self.running


@dataclass(frozen=True)
class Claimed:
    request: AsyncRequest
    # Found running at a restart: its result may already be written.
    recovered: bool


class AsyncQueue:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lanes: dict[str, _Lane] = {}
        self._written: dict[str, AsyncRequest] = {}
        self._seq = 0

    # -- start-up ----------------------------------------------------------------

    def load(self) -> None:
        """Rebuild the in-memory index from the store (once, before anything else)."""
        requests = sorted(
            (AsyncRequest.from_record(r) for r in self.store.list_records(KIND)),
            key=lambda r: r.seq,
        )
        for request in requests:
            self._seq = max(self._seq, request.seq)
            if request.state is State.WRITTEN:
                self._written[request.request_id] = request
            else:
                self._insert(request, recovered=request.state is State.RUNNING)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- state changes -------------------------------------------------------------

    def accept(self, request: AsyncRequest, now: float) -> None:
        """Store a new request (``Received``) and queue it."""
        self.store.insert(request.to_record(now))
        self._insert(request, recovered=False)

    def claim(self, endpoint: str, now: float) -> Claimed | None:
        """Take the endpoint's oldest waiting request to run (``Running``)."""
        lane = self._lanes.get(endpoint.lower())
        if lane is None or not lane.waiting:
            return None
        _, request, recovered = lane.waiting[0]
        if request.state is State.RECEIVED:
            request = request.moved(Event.CLAIM, started=now)
            self.store.put(request.to_record(now))
        else:
            request = _restarted(request, now)
            self.store.put(request.to_record(now))
        lane.waiting.pop(0)
        lane.running[request.request_id] = request
        return Claimed(request, recovered)

    def expire(self, request: AsyncRequest, outcome: Outcome, now: float) -> AsyncRequest:
        """A waiting request whose TTL passed: its failure was written."""
        lane = self._lanes[request.endpoint.lower()]
        index = _find(lane.waiting, request)
        if request.state is State.RUNNING:  # found running at a restart, never rerun
            request = request.moved(Event.REQUEUE)
        done = request.moved(Event.EXPIRE, outcome=outcome)
        self.store.put(done.to_record(now))
        lane.waiting.pop(index)
        self._drop_if_empty(request.endpoint)
        self._written[done.request_id] = done
        return done

    def written(self, request: AsyncRequest, outcome: Outcome, now: float) -> AsyncRequest:
        """A running request's result (or failure) was written."""
        done = request.moved(Event.WRITE, outcome=outcome)
        self.store.put(done.to_record(now))
        lane = self._lanes[request.endpoint.lower()]
        lane.running.pop(request.request_id, None)
        self._drop_if_empty(request.endpoint)
        self._written[done.request_id] = done
        return done

    def release(self, request: AsyncRequest) -> None:
        """A claimed request goes back to the head of its queue (it never reached a model)."""
        lane = self._lanes[request.endpoint.lower()]
        lane.running.pop(request.request_id, None)
        bisect.insort(lane.waiting, (request.seq, request, False), key=lambda item: item[0])

    def done(self, request: AsyncRequest) -> None:
        """Nothing is left to do: the record goes."""
        self.store.delete(KIND, request.request_id)
        self._written.pop(request.request_id, None)

    # -- reading -------------------------------------------------------------------

    def endpoints(self) -> list[str]:
        """Endpoints with requests waiting or running (lower-cased)."""
        return list(self._lanes)

    def waiting(self, endpoint: str) -> Iterator[AsyncRequest]:
        lane = self._lanes.get(endpoint.lower())
        return iter(()) if lane is None else (r for _, r, _ in list(lane.waiting))

    def head(self, endpoint: str) -> AsyncRequest | None:
        lane = self._lanes.get(endpoint.lower())
        return lane.waiting[0][1] if lane is not None and lane.waiting else None

    def counts(self, endpoint: str) -> tuple[int, int]:
        """(waiting, running) for the endpoint."""
        lane = self._lanes.get(endpoint.lower())
        return (0, 0) if lane is None else (len(lane.waiting), len(lane.running))

    def running(self, endpoint: str) -> list[AsyncRequest]:
        lane = self._lanes.get(endpoint.lower())
        return [] if lane is None else list(lane.running.values())

    def oldest_received(self, endpoint: str) -> float | None:
        """Arrival of the oldest request waiting or running."""
        lane = self._lanes.get(endpoint.lower())
        if lane is None or lane.empty:
            return None
        times = [r.received for r in lane.running.values()]
        if lane.waiting:
            times.append(lane.waiting[0][1].received)
        return min(times)

    def unnotified(self) -> list[AsyncRequest]:
        """Written requests whose notification is still to be published."""
        return sorted(self._written.values(), key=lambda r: r.seq)

    # -- internals -----------------------------------------------------------------

    def _insert(self, request: AsyncRequest, *, recovered: bool) -> None:
        lane = self._lanes.setdefault(request.endpoint.lower(), _Lane())
        bisect.insort(lane.waiting, (request.seq, request, recovered), key=lambda item: item[0])

    def _drop_if_empty(self, endpoint: str) -> None:
        lane = self._lanes.get(endpoint.lower())
        if lane is not None and lane.empty:
            del self._lanes[endpoint.lower()]


def _restarted(request: AsyncRequest, now: float) -> AsyncRequest:
    """A request found running at a restart, claimed again: its start time is now."""
    return request.moved(Event.REQUEUE).moved(Event.CLAIM, started=now)


def _find(waiting: list[tuple[int, AsyncRequest, bool]], request: AsyncRequest) -> int:
    for index, (_, found, _) in enumerate(waiting):
        if found.request_id == request.request_id:
            return index
    raise KeyError(request.request_id)
