"""Per-key locks shared by every cache object in the process.

Two copies of one model often start at once; the cache and the model
directory builder take the lock of an artifact's key so that only one thread
downloads or extracts it while the other waits and then finds it ready. The
registry is process-wide (keyed by the cache root as well) so that two cache
objects over the same directory still exclude each other. Correctness never
depends on these locks: every entry is published by an atomic rename
(:mod:`moorage.artifacts.fsutil`); the locks only avoid doing the work twice.
"""

from __future__ import annotations

import threading

_registry: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def lock_for(*key: str) -> threading.Lock:
    """The one lock for ``key`` (a tuple of strings) in this process."""
    name = "\x00".join(key)
    with _guard:
        lock = _registry.get(name)
        if lock is None:
            lock = _registry[name] = threading.Lock()
        return lock
