"""Errors of the model server: one request's HTTP answer, or the end of the process.

:class:`InvocationError` carries an HTTP status and a message fit for the
response body; the default codecs (:mod:`moorage.container.codecs`) raise it
for 400/406/415, the ASGI app (:mod:`moorage.container.app`) for 404, 413
and 503, and the pool's watch (:mod:`moorage.container.workers`) for 504.
:class:`StartupError` stops the process with an :class:`ExitCode`;
:mod:`moorage.container.server` turns it into the failure file, a traceback on
stderr and the exit status.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit statuses of ``python -m moorage.container`` (documented in docs/model-server.md)."""

    OK = 0  # stopped by SIGTERM / SIGINT after draining
    INTERNAL = 1  # a bug in the model server itself
    USAGE = 2  # bad command line or environment variable
    SCRIPT = 3  # the inference script is missing, does not import, or breaks the contract
    MODEL_FN = 4  # model_fn raised
    LISTEN = 5  # the host/port could not be bound
    ORPHANED = 6  # the parent named by MOORAGE_PARENT_PID died


class InvocationError(Exception):
    """An answer other than 200 for one request, with a message for its body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StartupError(Exception):
    """The server cannot start (or keep) serving; ``reason`` is one paragraph for the parent."""

    def __init__(self, code: ExitCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
