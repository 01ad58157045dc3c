"""The errors the capture package raises.

Configuration problems (an unusable destination, a sampling percentage out of
range) are :class:`CaptureConfigError`; a capture file that cannot be read or
parsed is :class:`CaptureReadError`. Writing never raises to its caller: the
writer (:mod:`moorage.capture.writer`) counts and logs its failures instead.
"""

from __future__ import annotations


class CaptureConfigError(ValueError):
    """A DataCaptureConfig or DataStorageConfig that cannot be used."""


class CaptureReadError(ValueError):
    """A capture location that cannot be listed, or a line that is not a capture record."""

    def __init__(self, message: str, *, location: str = "") -> None:
        super().__init__(message)
        self.location = location
