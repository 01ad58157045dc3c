"""The one seam that starts, stops and health-checks model copies.

A *copy* is one model-server process serving one model (one per instance for
model-based variants, one per inference-component copy). Everything above
this package talks to :class:`~moorage.fleet.base.Fleet`; the default
backend runs local processes (:mod:`.local`), a fake backend runs in memory
for simulation tests (:mod:`.fake`).
"""
