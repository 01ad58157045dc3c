"""Turning a model's data location into a local model directory.

The fleet asks a :class:`Preparer` for a ready model directory and for the
site directory holding the model's Python requirements; the default
implementation is built on :mod:`moorage.artifacts`. With ``use_cache`` both
are shared by every copy of the same model; without it (an inference
component without ``DataCacheConfig.EnableCaching``) each copy gets its own,
handed back with :meth:`Preparer.release` when the copy stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from moorage.domain.model import ModelData


class PrepareError(Exception):
    """The artifact or its requirements could not be prepared (a user error)."""


class Preparer(Protocol):
    def model_dir(self, data: ModelData | None, *, timeout_s: float, use_cache: bool) -> Path:
        """A ready model directory (blocking; called in a worker thread)."""
        ...

    def requirements(self, model_dir: Path, *, use_cache: bool) -> Path | None:
        """The directory to put on PYTHONPATH for code/requirements.txt, if any."""
        ...

    def release(self, model_dir: Path, site: Path | None) -> None:
        """Delete what was prepared for one copy alone (shared entries stay)."""
        ...
