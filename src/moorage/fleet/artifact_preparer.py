"""The default :class:`~moorage.fleet.prepare.Preparer`, built on :mod:`moorage.artifacts`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from moorage.artifacts import ArtifactCache, ArtifactError, ModelSource, ensure_requirements
from moorage.artifacts import materialize as materialize_source
from moorage.domain.model import ModelData
from moorage.fleet.prepare import PrepareError


class ArtifactPreparer:
    """Downloads, extracts and installs requirements under one cache directory.

    Layout: ``<root>/`` holds the artifact cache (downloads, model
    directories) and ``<root>/site/`` one folder per distinct
    ``requirements.txt`` and interpreter.
    """

    def __init__(self, root: Path, *, python_executable: str | None = None) -> None:
        self.root = root
        self.cache = ArtifactCache(root)
        self.python_executable = python_executable or sys.executable

    def model_dir(self, data: ModelData | None, *, timeout_s: float, use_cache: bool) -> Path:
        try:
            source = _source(data)
            return materialize_source(source, self.cache, timeout_s=timeout_s, use_cache=use_cache)
        except ArtifactError as exc:
            raise PrepareError(str(exc)) from None

    def requirements(self, model_dir: Path) -> Path | None:
        try:
            return ensure_requirements(model_dir, self.root / "site", self.python_executable)
        except ArtifactError as exc:
            raise PrepareError(str(exc)) from None


def _source(data: ModelData | None) -> ModelSource | None:
    if data is None:
        return None
    source = ModelSource.of(data.url, prefix=data.prefix, compressed=data.compressed)
    if data.etag:
        source = dataclasses.replace(source, expected_etag=data.etag)
    return source
