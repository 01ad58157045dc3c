"""Fetching and safely unpacking model artifacts.

The bottom layer under the fleet: before a model copy starts,
:mod:`moorage.fleet.prepare` turns the model's data location into a local
model directory with :func:`materialize` and installs its
``code/requirements.txt`` with :func:`ensure_requirements`, after fetching the
code ``SAGEMAKER_SUBMIT_DIRECTORY`` names with :func:`materialize_code`. Everything here
is synchronous and thread-safe; callers run it in a worker thread. Every
failure is an :class:`ArtifactError` whose message is fit to be an endpoint's
``FailureReason``. See ``docs/artifacts.md``.

Modules: :mod:`~moorage.artifacts.locations` (parsing URLs and
``ModelDataSource``), :mod:`~moorage.artifacts.s3` (botocore),
:mod:`~moorage.artifacts.cache` (downloads), :mod:`~moorage.artifacts.extract`
(tar safety), :mod:`~moorage.artifacts.model_dir` (model directories),
:mod:`~moorage.artifacts.code_dir` (the code directory),
:mod:`~moorage.artifacts.requirements` (pip), :mod:`~moorage.artifacts.space`
(the unpacked-size cap, the free-space reserve, a full disk).
"""

from moorage.artifacts.cache import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_MAX_OBJECTS,
    ArtifactCache,
    FetchedArtifact,
    FetchLimits,
)
from moorage.artifacts.code_dir import CodeLocation, materialize_code
from moorage.artifacts.deadline import Deadline
from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.extract import (
    DEFAULT_MAX_EXTRACT_BYTES,
    DEFAULT_MAX_MEMBERS,
    ExtractLimits,
    extract_archive,
)
from moorage.artifacts.locations import (
    ArtifactLocation,
    CompressionType,
    LocationKind,
    ModelSource,
    S3DataType,
    parse_location,
)
from moorage.artifacts.model_dir import materialize, release
from moorage.artifacts.requirements import (
    DEFAULT_PIP_TIMEOUT_S,
    ensure_requirements,
    install_requirements,
    requirements_key,
)
from moorage.artifacts.s3 import S3ClientFactory, make_s3_client

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_EXTRACT_BYTES",
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_MAX_OBJECTS",
    "DEFAULT_PIP_TIMEOUT_S",
    "ArtifactCache",
    "ArtifactError",
    "ArtifactLocation",
    "CodeLocation",
    "CompressionType",
    "Deadline",
    "ExtractLimits",
    "FetchLimits",
    "FetchedArtifact",
    "LocationKind",
    "ModelSource",
    "S3ClientFactory",
    "S3DataType",
    "ensure_requirements",
    "extract_archive",
    "install_requirements",
    "make_s3_client",
    "materialize",
    "materialize_code",
    "parse_location",
    "release",
    "requirements_key",
]
