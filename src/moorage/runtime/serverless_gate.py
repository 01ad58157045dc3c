"""A serverless variant's admission: its ``MaxConcurrency`` and its demand.

One :class:`ServerlessGate` per serverless variant of an endpoint, owned by
the reconciler's serverless fleet (:mod:`moorage.deploy.serverless`) and
carried by every routing snapshot of the variant
(:attr:`moorage.runtime.snapshot.VariantRoute.serverless`), so counts
survive snapshot swaps. The data plane admits a request (``inflight`` below
``max_concurrency``, else AWS's ``ThrottlingException``), counts it in
``admitted`` — how the serverless fleet tells a variant in use from an idle
one — and calls :attr:`wake` when the variant has no copy, so one starts.
Requests held while a copy starts count towards ``MaxConcurrency`` too, as
on AWS, where a request waiting for a cold start is an invocation in
progress.
"""

from __future__ import annotations

from collections.abc import Callable


def _nothing() -> None:
    return None


class ServerlessGate:
    __slots__ = ("admitted", "inflight", "max_concurrency", "wake")

    def __init__(self, max_concurrency: int, wake: Callable[[], None] = _nothing) -> None:
        self.max_concurrency = max_concurrency
        self.inflight = 0
        self.admitted = 0
        # Asks the serverless fleet to start a copy now (pokes the reconciler).
        self.wake = wake

    def __repr__(self) -> str:
        return f"ServerlessGate(max_concurrency={self.max_concurrency}, inflight={self.inflight})"
