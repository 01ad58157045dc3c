"""One queued asynchronous inference request, and the states it moves through.

A request is stored (state ``Received``) before InvokeEndpointAsync answers
202, so nothing acknowledged is lost. The dispatcher claims it (``Running``)
before it invokes the model; once the answer (or the failure) is written to
its output (or failure) location the request is ``Written`` with its
:class:`Outcome`, and it leaves the store once its notification has been
published (or there is none to publish). :data:`TRANSITIONS` is the whole
state machine: anything else is a bug, refused by :func:`advance`.

A restart resumes every stored request by its state
(:mod:`moorage.async_inference.queue`): ``Received`` waits in the queue
again, ``Written`` only has its notification left to publish, and
``Running`` is run again only if neither of its locations holds an object
yet, so an answer already written is never produced a second time.

Each request has its own object name (a fresh UUID), not its InferenceId:
callers may reuse an InferenceId, and the name must be the request's alone
for that check to mean anything.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from moorage.async_inference.config import Notifications
from moorage.store.base import Record

KIND = "async-invocation"


class State(StrEnum):
    RECEIVED = "Received"
    RUNNING = "Running"
    WRITTEN = "Written"


class Event(StrEnum):
    CLAIM = "claim"  # the dispatcher takes it to run
    REQUEUE = "requeue"  # a restart found it running with nothing written
    WRITE = "write"  # its output or failure object was written
    EXPIRE = "expire"  # its TTL passed while it waited (failure written)


TRANSITIONS: Mapping[tuple[State, Event], State] = {
    (State.RECEIVED, Event.CLAIM): State.RUNNING,
    (State.RECEIVED, Event.EXPIRE): State.WRITTEN,
    (State.RUNNING, Event.WRITE): State.WRITTEN,
    (State.RUNNING, Event.REQUEUE): State.RECEIVED,
}


class BadTransition(Exception):
    """An event the request's state does not allow."""


def advance(state: State, event: Event) -> State:
    found = TRANSITIONS.get((state, event))
    if found is None:
        raise BadTransition(f"{event.value} is not allowed in state {state.value}")
    return found


class Status(StrEnum):
    """``invocationStatus`` in the notification."""

    COMPLETED = "Completed"
    FAILED = "Failed"


@dataclass(frozen=True)
class Outcome:
    """What happened to a request: where its result went, and what to notify."""

    status: Status
    content_type: str | None = None
    failure_reason: str | None = None
    # The response (or error) body, kept only when a notification should carry it.
    body: bytes | None = None
    finished: float = 0.0

    def to_doc(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "content_type": self.content_type,
            "failure_reason": self.failure_reason,
            "body": None if self.body is None else base64.b64encode(self.body).decode(),
            "finished": self.finished,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Outcome:
        body = doc.get("body")
        return cls(
            status=Status(doc["status"]),
            content_type=doc.get("content_type"),
            failure_reason=doc.get("failure_reason"),
            body=None if body is None else base64.b64decode(body),
            finished=float(doc.get("finished") or 0.0),
        )


@dataclass(frozen=True)
class AsyncRequest:
    request_id: str  # the object name's UUID; the record's key
    seq: int  # order of arrival (FIFO per endpoint, across restarts)
    endpoint: str
    inference_id: str
    received: float  # epoch seconds
    ttl_s: int
    timeout_s: int
    output_location: str
    failure_location: str
    input_location: str | None = None
    inline_body: bytes | None = None
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    kms_key_id: str | None = None
    notifications: Notifications = field(default_factory=Notifications)
    state: State = State.RECEIVED
    started: float | None = None
    outcome: Outcome | None = None

    @property
    def expires(self) -> float:
        """When it expires if it is still waiting (``RequestTTLSeconds`` after arrival)."""
        return self.received + self.ttl_s

    def expired(self, now: float) -> bool:
        return now >= self.expires

    def moved(self, event: Event, **changes: Any) -> AsyncRequest:
        return replace(self, state=advance(self.state, event), **changes)

    def to_record(self, now: float) -> Record:
        doc: dict[str, Any] = {
            "seq": self.seq,
            "endpoint": self.endpoint,
            "inference_id": self.inference_id,
            "received": self.received,
            "ttl_s": self.ttl_s,
            "timeout_s": self.timeout_s,
            "output": self.output_location,
            "failure": self.failure_location,
            "input": self.input_location,
            "inline": None
            if self.inline_body is None
            else base64.b64encode(self.inline_body).decode(),
            "content_type": self.content_type,
            "accept": self.accept,
            "custom_attributes": self.custom_attributes,
            "kms_key_id": self.kms_key_id,
            "notifications": self.notifications.to_doc(),
            "state": self.state.value,
            "started": self.started,
            "outcome": None if self.outcome is None else self.outcome.to_doc(),
        }
        return Record(KIND, self.request_id, "", self.received, now, doc)

    @classmethod
    def from_record(cls, record: Record) -> AsyncRequest:
        doc = record.doc
        inline = doc.get("inline")
        outcome = doc.get("outcome")
        return cls(
            request_id=record.name,
            seq=int(doc["seq"]),
            endpoint=str(doc["endpoint"]),
            inference_id=str(doc["inference_id"]),
            received=float(doc["received"]),
            ttl_s=int(doc["ttl_s"]),
            timeout_s=int(doc["timeout_s"]),
            output_location=str(doc["output"]),
            failure_location=str(doc["failure"]),
            input_location=doc.get("input"),
            inline_body=None if inline is None else base64.b64decode(inline),
            content_type=doc.get("content_type"),
            accept=doc.get("accept"),
            custom_attributes=doc.get("custom_attributes"),
            kms_key_id=doc.get("kms_key_id"),
            notifications=Notifications.from_doc(doc.get("notifications") or {}),
            state=State(doc["state"]),
            started=doc.get("started"),
            outcome=None if outcome is None else Outcome.from_doc(outcome),
        )
