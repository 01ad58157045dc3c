"""When a handler call may run on the event loop itself instead of a worker thread.

Handing each request to a worker thread costs more than a quick handler
itself: the submit, the future, waking the thread and the loop again (the
profile of a no-op model: about 40 % of the model server's CPU). A handler
call that is quick and holds the GIL gains nothing from a thread either, so
:class:`InlinePolicy` lets the handler pool (:mod:`moorage.container.workers`)
run calls inline once they have proved quick:

- every call, wherever it ran, is timed; one of at most :data:`QUICK_S` is
  quick;
- after :attr:`InlinePolicy.needed` quick calls in a row (8 at first) calls
  run inline;
- a slow call sends calls back to the threads, and a slow call that ran
  inline (it held the loop: no pings, no other request meanwhile) doubles
  the quick calls needed next time, up to :data:`MOST_NEEDED`.

So a model whose handlers take milliseconds, block on I/O or release the GIL
to compute keeps the threads and ``SAGEMAKER_MODEL_SERVER_WORKERS``
parallelism; a model that answers in microseconds runs without the hop.
"""

from __future__ import annotations

# A call at most this long (seconds) is quick enough to run on the loop.
QUICK_S = 0.0005
FIRST_NEEDED = 8
MOST_NEEDED = 1 << 16


class InlinePolicy:
    def __init__(self) -> None:
        self.needed = FIRST_NEEDED
        self.streak = 0

    @property
    def inline(self) -> bool:
        """Whether the next call may run on the event loop."""
        return self.streak >= self.needed

    def record(self, seconds: float, *, inline: bool) -> None:
        """Note one call's duration, and whether it ran inline."""
        if seconds <= QUICK_S:
            if self.streak < self.needed:
                self.streak += 1
            return
        self.streak = 0
        if inline:
            self.needed = min(self.needed * 2, MOST_NEEDED)
