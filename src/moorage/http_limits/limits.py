"""The numbers that bound what one client can hold on moorage's port.

:class:`HttpLimits` is built once from :class:`~moorage.settings.Settings`
(``moorage serve --max-header-size``, ``--header-timeout``,
``--body-timeout``, ``--keep-alive-timeout``, ``--max-connections``) and
read by :mod:`moorage.http_limits.connections` (timeouts, the connection
cap) and :mod:`moorage.http_limits.protocol` (header size). The reasons for
each default are in docs/limits.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.settings import Settings

# Connections beyond the cap that may still carry health checks and
# control-plane calls (never invocations), one request each.
CONTROL_RESERVE = 32
# --max-connections when not given (lowered if the open-file limit is too low).
DEFAULT_MAX_CONNECTIONS = 1024

# The timeouts are checked on a timer this many times per shortest timeout,
# and never less often than once a second: a timeout fires at most a quarter
# of itself (or a second) late.
_CHECKS_PER_TIMEOUT = 4
_LONGEST_CHECK_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class HttpLimits:
    # Request line plus headers, in bytes; larger heads are answered 431.
    max_header_bytes: int = 64 * 1024
    # From a request's first byte (or the connection's opening) to its last header.
    header_timeout_s: int = 30
    # Longest wait for the next byte of a request body.
    body_timeout_s: int = 30
    # Longest a connection may stay open between requests.
    keep_alive_timeout_s: int = 75
    # Connections open at once for any request; CONTROL_RESERVE more for control calls.
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    reserve: int = CONTROL_RESERVE

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            keep_alive_timeout_s=settings.keep_alive_timeout_s,
            max_connections=settings.max_connections,
        )

    @property
    def check_interval_s(self) -> float:
        """How often open connections are checked against the timeouts."""
        shortest = min(self.header_timeout_s, self.body_timeout_s, self.keep_alive_timeout_s)
        return min(shortest / _CHECKS_PER_TIMEOUT, _LONGEST_CHECK_INTERVAL_S)
