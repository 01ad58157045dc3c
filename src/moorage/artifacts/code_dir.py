"""A model's inference code: the directory ``SAGEMAKER_SUBMIT_DIRECTORY`` names.

SageMaker's framework containers (scikit-learn, XGBoost, and the others built
on the SageMaker training and inference toolkits) take the user's code from
``SAGEMAKER_SUBMIT_DIRECTORY`` in the container's environment: an ``s3://``
``sourcedir.tar.gz`` is downloaded and unpacked as the code directory, a
local directory is used as it is, and ``SAGEMAKER_PROGRAM`` is the script in
it. The SageMaker Python SDK relies on this: ``SKLearnModel`` and
``XGBoostModel`` upload ``sourcedir.tar.gz`` beside the model and leave
``model.tar.gz`` alone, while the models it repacks (``PyTorchModel`` and
the other TorchServe/MMS ones) put the code into ``model.tar.gz`` and set
the variable to ``/opt/ml/model/code``, the container's view of the model
directory.

:class:`CodeLocation` is the typed reading of the variable;
:func:`materialize_code` turns it into a local directory, fetching and
unpacking remote code through the same cache, size cap and extraction
checks as model data (:func:`moorage.artifacts.model_dir.materialize`), so
a changed ``sourcedir.tar.gz`` (a new ETag) gets a new directory and running
copies keep theirs. The fleet (:mod:`moorage.fleet.artifact_preparer`) is
the caller; the model server is told the result (``MOORAGE_CODE_DIR``).

Accepted values:

- unset or empty: ``code/`` in the model directory (what moorage has always
  read, and where repacked models keep their code);
- ``/opt/ml/model[/SUB]`` (or ``file:///opt/ml/model[/SUB]``): that folder of
  the model directory;
- ``s3://bucket/key`` (or an ``https://`` S3 URL): a tar archive, gzip
  compressed or not, unpacked as the code directory; ``s3://bucket/prefix/``
  (ending with ``/``): every object under the prefix;
- ``file:///abs/path`` or ``/abs/path``: a local directory (used in place),
  or a local tar archive (unpacked).

Anything else is an :class:`ArtifactError` naming the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from moorage.artifacts.cache import ArtifactCache
from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.extract import ExtractLimits
from moorage.artifacts.locations import ModelSource
from moorage.artifacts.model_dir import materialize
from moorage.file_roots import CONTAINER_MODEL_DIR, SUBMIT_DIRECTORY, local_path

# Where the code is when the variable does not say: the model's code/ folder.
DEFAULT_CODE = PurePosixPath("code")
_SCHEMES = ("s3", "https", "file")


@dataclass(frozen=True)
class CodeLocation:
    """Where one copy's code comes from: a folder of the model directory, or a source.

    Exactly one of ``in_model`` (relative to the model directory, ``.`` for
    the directory itself) and ``source`` is set. ``value`` is the variable
    as the model gave it, for messages.
    """

    value: str
    in_model: PurePosixPath | None = None
    source: ModelSource | None = None

    @classmethod
    def of(cls, value: str | None) -> CodeLocation:
        """Read ``SAGEMAKER_SUBMIT_DIRECTORY``; raise :class:`ArtifactError` if unusable."""
        if not value:
            return cls("", in_model=DEFAULT_CODE)
        shown = f"{SUBMIT_DIRECTORY} {value!r}"
        if value != value.strip():
            raise ArtifactError(f"{shown} has leading or trailing white space")
        if "\0" in value:
            raise ArtifactError(f"{shown} contains a NUL character")
        path = local_path(value)
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        if path is not None and path.startswith("/") and parts.netloc in ("", "localhost"):
            inside = _inside_container_model_dir(path)
            if inside is not None:
                return cls(value, in_model=inside)
        if path is None and scheme not in _SCHEMES:
            raise ArtifactError(
                f"{shown} is not supported: use s3://bucket/sourcedir.tar.gz, a local "
                f"directory (file:///absolute/path or /absolute/path), or "
                f"{CONTAINER_MODEL_DIR}/code for code inside the model archive"
            )
        if path is not None and not path.startswith("/"):
            raise ArtifactError(f"{shown} is not an absolute path")
        prefix = scheme in ("s3", "https") and value.endswith("/")
        try:
            source = ModelSource.of(value, prefix=prefix, compressed=not prefix)
        except ArtifactError as exc:
            raise ArtifactError(f"{shown} cannot be used: {exc.message}") from None
        return cls(value, source=source)


def materialize_code(
    location: CodeLocation,
    model_dir: Path,
    cache: ArtifactCache,
    *,
    timeout_s: float,
    use_cache: bool = True,
    limits: ExtractLimits | None = None,
) -> Path:
    """The local code directory for ``location`` (blocking; run it in a worker thread).

    A folder of the model directory is returned as it is (it may not exist:
    the model server then says which script is missing). Fetched code is a
    model directory of the cache: shared and versioned with ``use_cache``, a
    private one (handed back with :func:`moorage.artifacts.model_dir.release`)
    without. Raises :class:`ArtifactError`.
    """
    if location.in_model is not None:
        return model_dir / location.in_model
    assert location.source is not None
    return materialize(
        location.source, cache, timeout_s=timeout_s, use_cache=use_cache, limits=limits
    )


def _inside_container_model_dir(path: str) -> PurePosixPath | None:
    """``SUB`` for ``/opt/ml/model/SUB`` (``.`` for the directory itself), else None."""
    normalised = PurePosixPath(os.path.normpath(path))
    if normalised == CONTAINER_MODEL_DIR:
        return PurePosixPath(".")
    if CONTAINER_MODEL_DIR in normalised.parents:
        return normalised.relative_to(CONTAINER_MODEL_DIR)
    return None
