"""The server's console: one line per lifecycle event, on its standard output.

Everything that a person watching ``moorage serve`` wants to see happen goes
through :func:`event`: an endpoint InService (and how long it took) or Failed
(and why), each step of a rollout, a bake that passed, a rollback and the
alarm that caused it (:mod:`moorage.deploy.console_events`), and each scaling
activity (:mod:`moorage.autoscaling.activities`). The lines are records of the
``moorage.events`` logger at INFO, written as ``HH:MM:SS message`` by
:func:`configure`, which ``moorage serve`` calls with its ``--log-level``: at
WARNING or above they are not printed. Diagnostics (other loggers) keep their
own format on standard error. See docs/cli.md.
"""

from __future__ import annotations

import logging
from typing import TextIO

LOGGER = "moorage.events"
log = logging.getLogger(LOGGER)


def event(message: str) -> None:
    """Print one line on the server's console."""
    log.info("%s", message)


def configure(level: int, stream: TextIO) -> None:
    """Write events at ``level`` (INFO or lower prints them) to ``stream``, one line each."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(level)
