"""The data plane: routing snapshots, invocation, streaming, capture.

The reconciler publishes an immutable :class:`~.snapshot.EndpointRoute` per
endpoint into the :class:`~.router.Router`; each invocation reads the
snapshot current when it arrives and finishes on it, so swapping snapshots
never disturbs requests in flight.
"""
