"""The default :class:`~moorage.fleet.prepare.Preparer`, built on :mod:`moorage.artifacts`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from moorage.artifacts import (
    ArtifactCache,
    ArtifactError,
    CodeLocation,
    ExtractLimits,
    ModelSource,
    install_requirements,
    materialize_code,
)
from moorage.artifacts import materialize as materialize_source
from moorage.artifacts import release as release_model_dir
from moorage.artifacts.cache import PRIVATE_MARK
from moorage.artifacts.fsutil import owned_name, remove
from moorage.artifacts.requirements import REQUIREMENTS
from moorage.artifacts.space import DEFAULT_MAX_UNPACKED_BYTES, os_error_cause
from moorage.domain.model import ModelData
from moorage.file_roots import SUBMIT_DIRECTORY, FileRoots, OutsideRoots
from moorage.fleet.prepare import PrepareError


class ArtifactPreparer:
    """Downloads, extracts and installs requirements under one cache directory.

    Layout: ``<root>/`` holds the artifact cache (downloads, model
    directories) and ``<root>/site/`` one folder per distinct
    ``requirements.txt`` and interpreter. What a copy prepares without the
    cache (its model directory, its requirements) goes under
    ``<root>/private/copy-<pid>-…`` and is deleted by :meth:`release`, or by
    :meth:`sweep` at the next start if the server died.

    Local model data must lie inside ``file_roots`` (checked again here, for
    models stored before the server was given its roots), and so must local
    code named by ``SAGEMAKER_SUBMIT_DIRECTORY``. Code fetched from there
    goes through the same cache, caps and checks as model data
    (:mod:`moorage.artifacts.code_dir`).

    ``max_unpacked_bytes`` caps what one model's data unpacks to, and what
    its requirements install to (``moorage serve --max-unpacked-size``); a
    full disk anywhere on the way is a :class:`PrepareError` that says so.
    """

    def __init__(
        self,
        root: Path,
        *,
        python_executable: str | None = None,
        file_roots: FileRoots | None = None,
        max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
    ) -> None:
        self.root = root
        self.cache = ArtifactCache(root)
        self.limits = ExtractLimits(max_bytes=max_unpacked_bytes)
        self.python_executable = python_executable or sys.executable
        self.file_roots = file_roots or FileRoots()

    def model_dir(self, data: ModelData | None, *, timeout_s: float, use_cache: bool) -> Path:
        try:
            if data is not None:
                self.file_roots.check_location("the model data location", data.url)
        except OutsideRoots as exc:
            raise PrepareError(str(exc)) from None
        try:
            source = _source(data)
            return materialize_source(
                source, self.cache, timeout_s=timeout_s, use_cache=use_cache, limits=self.limits
            )
        except ArtifactError as exc:
            raise PrepareError(str(exc)) from None
        except OSError as exc:
            raise PrepareError(_unprepared("the model data", exc, self.root)) from None

    def code_dir(
        self, submit_directory: str | None, model_dir: Path, *, timeout_s: float, use_cache: bool
    ) -> Path:
        try:
            location = CodeLocation.of(submit_directory)  # its messages name the variable
            if location.source is not None:
                self.file_roots.check_location(SUBMIT_DIRECTORY, location.value)
        except (ArtifactError, OutsideRoots) as exc:
            raise PrepareError(str(exc)) from None
        try:
            return materialize_code(
                location,
                model_dir,
                self.cache,
                timeout_s=timeout_s,
                use_cache=use_cache,
                limits=self.limits,
            )
        except ArtifactError as exc:
            raise PrepareError(f"the code in {SUBMIT_DIRECTORY}: {exc}") from None
        except OSError as exc:
            raise PrepareError(_unprepared("the code", exc, self.root)) from None

    def requirements(
        self, model_dir: Path, *, use_cache: bool, code_dir: Path | None = None
    ) -> Path | None:
        root = self.root / "site" if use_cache else self.cache.private / owned_name(PRIVATE_MARK)
        code = code_dir if code_dir is not None else model_dir / REQUIREMENTS.parent
        in_model = code == model_dir / REQUIREMENTS.parent
        shown = str(REQUIREMENTS) if in_model else f"requirements.txt of {SUBMIT_DIRECTORY}"
        try:
            return install_requirements(
                code / REQUIREMENTS.name,
                root,
                self.python_executable,
                shown=shown,
                max_bytes=self.limits.max_bytes,
                reserve=self.cache.reserve,
            )
        except ArtifactError as exc:
            raise PrepareError(str(exc)) from None
        except OSError as exc:
            raise PrepareError(_unprepared("the requirements", exc, root)) from None

    def release(self, model_dir: Path, site: Path | None, code_dir: Path | None = None) -> None:
        release_model_dir(model_dir, self.cache)
        if code_dir is not None:
            # Private fetched code; code inside the model directory went with it.
            release_model_dir(code_dir, self.cache)
        # A private install is <private>/copy-…/<key>: the copy's folder goes.
        folder = site.parent if site is not None else None
        if (
            folder is not None
            and folder.parent == self.cache.private
            and folder.name.startswith(PRIVATE_MARK)
        ):
            remove(folder)

    def sweep(self) -> int:
        """Remove what copies of a server that died left behind (call at start)."""
        return self.cache.sweep()


def _unprepared(what: str, exc: OSError, root: Path) -> str:
    # The artifacts package reports its own failures; this is the last
    # resort that keeps an unforeseen one (a full disk) a clear FailureReason.
    return f"{what} could not be prepared: {os_error_cause(exc, root)}"


def _source(data: ModelData | None) -> ModelSource | None:
    if data is None:
        return None
    source = ModelSource.of(data.url, prefix=data.prefix, compressed=data.compressed)
    if data.etag:
        source = dataclasses.replace(source, expected_etag=data.etag)
    return source
