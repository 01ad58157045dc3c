"""The open-file limit, and how many connections fit in it.

``moorage serve`` (:mod:`moorage.cli`) raises the process's soft
``RLIMIT_NOFILE`` to its hard limit at start (what the operator allows;
the common soft default of 1024 is far below it), then checks that
``--max-connections`` fits: each client connection is one descriptor, and
an invocation in flight holds a second one to its model copy, while the
server needs a fixed number besides (database, logs, model-server pipes,
the listening socket, the event loop). See docs/limits.md.
"""

from __future__ import annotations

import resource

# Descriptors kept for everything but client connections and their upstreams.
DESCRIPTORS_BESIDES_CONNECTIONS = 256
# Client connection plus its connection to a model copy.
DESCRIPTORS_PER_CONNECTION = 2
# What an unlimited limit counts as (and what is asked for when the hard limit is).
_UNLIMITED = 1 << 20


def raise_open_files_limit() -> int:
    """Raise the soft open-file limit as far as allowed; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _UNLIMITED
    target = _UNLIMITED if hard == resource.RLIM_INFINITY else hard
    if soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        # e.g. macOS refuses more than its kern.maxfilesperproc: keep the soft limit.
        return soft
    return target


def connections_that_fit(open_files: int, reserve: int) -> int:
    """The largest ``--max-connections`` whose connections (and ``reserve``) fit ``open_files``."""
    usable = open_files - DESCRIPTORS_BESIDES_CONNECTIONS
    return max(0, usable // DESCRIPTORS_PER_CONNECTION - reserve)
