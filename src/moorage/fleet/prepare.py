"""Turning a model's data location into a local model directory.

The fleet asks a :class:`Preparer` for a ready model directory, for the
directory holding the model's inference code (``code/`` in the model
directory, or what ``SAGEMAKER_SUBMIT_DIRECTORY`` names) and for the site
directory holding the code's Python requirements; the default
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

    def code_dir(
        self, submit_directory: str | None, model_dir: Path, *, timeout_s: float, use_cache: bool
    ) -> Path:
        """The inference code's directory for ``SAGEMAKER_SUBMIT_DIRECTORY`` (blocking)."""
        ...

    def requirements(
        self, model_dir: Path, *, use_cache: bool, code_dir: Path | None = None
    ) -> Path | None:
        """The directory to put on PYTHONPATH for the code's requirements.txt, if any.

        ``code_dir`` defaults to ``model_dir/code``.
        """
        ...

    def release(self, model_dir: Path, site: Path | None, code_dir: Path | None = None) -> None:
        """Delete what was prepared for one copy alone (shared entries stay)."""
        ...
