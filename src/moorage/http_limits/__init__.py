"""Limits on what clients may hold on moorage's port (docs/limits.md).

:func:`limited_protocol` builds the uvicorn protocol class that enforces
them (:mod:`.protocol`), from :class:`HttpLimits` (:mod:`.limits`); the
connection cap and the timeouts live in :mod:`.connections`, the answers
in :mod:`.replies`, and the open-file limit the cap must fit in
:mod:`.descriptors`. :mod:`moorage.server` and :mod:`moorage.cli` use it.
"""

from moorage.http_limits.descriptors import (
    connections_that_fit,
    raise_open_files_limit,
)
from moorage.http_limits.limits import CONTROL_RESERVE, DEFAULT_MAX_CONNECTIONS, HttpLimits
from moorage.http_limits.protocol import limited_protocol

__all__ = [
    "CONTROL_RESERVE",
    "DEFAULT_MAX_CONNECTIONS",
    "HttpLimits",
    "connections_that_fit",
    "limited_protocol",
    "raise_open_files_limit",
]
