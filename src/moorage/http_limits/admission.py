"""Which connections are let in, and which requests the reserve serves.

:mod:`moorage.http_limits.connections` admits each new connection as
``NORMAL`` (under the cap), ``RESERVE`` (among the few connections past
the cap kept for health checks and the control plane) or ``FULL`` (past
both: answered 503 and closed at once). On a ``RESERVE`` connection,
:mod:`moorage.http_limits.protocol` asks :func:`reserve_serves` whether the
request may run: everything but invocations may (``/healthz``, ``/metrics``,
the JSON, query and CBOR control-plane protocols on ``POST /`` and
``/service/``, the ``/moorage/*`` pages), so that an overloaded data plane
never locks the operator out.
"""

from __future__ import annotations

import enum
import urllib.parse

import httptools

# SageMaker Runtime's paths (InvokeEndpoint and its streaming form), as routed
# by moorage.api.app.
INVOCATION_PREFIX = "/endpoints/"


class Admission(enum.Enum):
    NORMAL = "normal"
    RESERVE = "reserve"
    FULL = "full"


def reserve_serves(url: bytes) -> bool:
    """Whether a request for ``url`` (the request target as sent) may use the reserve."""
    try:
        raw_path: bytes = httptools.parse_url(url).path or b""
    except httptools.HttpParserInvalidURLError:
        return False
    # Routing sees the percent-decoded path: decide on the same path.
    path = urllib.parse.unquote(raw_path.decode("latin-1"))
    return not path.startswith(INVOCATION_PREFIX)
