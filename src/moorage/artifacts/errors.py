"""The one error the artifacts package raises.

Everything that can go wrong while locating, downloading, unpacking or
installing a model's data becomes an :class:`ArtifactError`. Its message is
written to be shown to users as an endpoint's ``FailureReason``: it names the
artifact and the cause, never carries a stack trace, and is bounded in length
(SageMaker's ``FailureReason`` holds at most 1024 characters). The fleet
(:mod:`moorage.fleet.prepare`) wraps it into its own start failure.
"""

from __future__ import annotations

# SageMaker's FailureReason shape allows 1024 characters; the fleet prefixes
# the copy's name, so leave room for that.
MAX_MESSAGE_CHARS = 900


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters.

    A long message loses its middle: the start names the artifact and the end
    usually holds the cause.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head - 5
    return f"{text[:head]} ... {text[-tail:]}"


class ArtifactError(Exception):
    """Model data could not be made ready; ``message`` is user-facing."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.message = bounded(message)
        self.url = url
        super().__init__(self.message)
