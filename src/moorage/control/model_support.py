"""Which model shapes moorage runs: the others are refused at CreateModel.

botocore's model admits shapes that the fleet (:mod:`moorage.fleet`) cannot
run today. Refusing them when the model is created, with a
``ValidationException`` naming the member at fault, beats accepting the
model and failing the endpoint minutes later. Refused (see
docs/api-coverage.md, "Models moorage does not run yet"):

- a container in ``Mode`` ``MultiModel`` (multi-model endpoints);
- several ``Containers`` (a serial inference pipeline), and
  ``InferenceExecutionConfig.Mode`` ``Direct``;
- ``ModelPackageName`` (and ``InferenceSpecificationName``, which goes with it);
- ``AdditionalModelDataSources`` (the copy would run without them);
- model data the fleet cannot fetch: a ``ModelDataSource`` with a
  ``ManifestS3Uri``, a ``S3Prefix`` marked ``Gzip``, an ``S3Object`` whose key
  names a prefix, a URL that is neither S3 nor a local path.

An inference component's ``Container.ArtifactUrl`` is held to the same
model data rules (:func:`check_artifact_url`). Used by
:mod:`moorage.control.models` and :mod:`moorage.control.inference_components`;
the model data rules are
:class:`moorage.artifacts.locations.ModelSource`'s, the same the fleet
applies when it fetches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moorage.artifacts.errors import ArtifactError
from moorage.artifacts.locations import ModelSource
from moorage.errors import ValidationError

_SEE = "see docs/api-coverage.md"


def check_runnable(params: Mapping[str, Any]) -> None:
    """Raise a ValidationError saying what is unsupported, if anything is."""
    mode = (params.get("InferenceExecutionConfig") or {}).get("Mode")
    if mode == "Direct":
        raise ValidationError(
            "moorage does not run multi-container models invoked directly yet "
            f"(InferenceExecutionConfig.Mode Direct); {_SEE}"
        )
    containers: Sequence[Mapping[str, Any]] = params.get("Containers") or ()
    if len(containers) > 1:
        raise ValidationError(
            "moorage does not run serial inference pipelines yet (Containers has "
            f"{len(containers)} containers; it runs one); {_SEE}"
        )
    primary = params.get("PrimaryContainer")
    if primary:
        _check_container("PrimaryContainer", primary)
    for index, container in enumerate(containers, start=1):
        _check_container(f"Containers.{index}", container)


def _check_container(member: str, container: Mapping[str, Any]) -> None:
    if container.get("ModelPackageName"):
        raise ValidationError(
            f"moorage does not run model packages yet ({member}.ModelPackageName); name the "
            f"container's Image and its model data instead; {_SEE}"
        )
    if container.get("InferenceSpecificationName"):
        raise ValidationError(
            f"{member}.InferenceSpecificationName applies to model packages, which moorage does "
            f"not run yet; {_SEE}"
        )
    if container.get("Mode") == "MultiModel":
        raise ValidationError(
            f"moorage does not run multi-model containers yet ({member}.Mode MultiModel); {_SEE}"
        )
    if container.get("AdditionalModelDataSources"):
        raise ValidationError(
            "moorage does not give a container additional model data yet "
            f"({member}.AdditionalModelDataSources); {_SEE}"
        )
    _check_model_data(member, container)


def check_artifact_url(member: str, url: object) -> None:
    """An inference component's ``Container.ArtifactUrl``: a tar archive, as a ModelDataUrl."""
    if isinstance(url, str):
        _check_model_data(member.rsplit(".", 1)[0], {"ArtifactUrl": url})


def _check_model_data(member: str, container: Mapping[str, Any]) -> None:
    url = container.get("ModelDataUrl")
    artifact = container.get("ArtifactUrl")
    source = container.get("ModelDataSource")
    try:
        if isinstance(url, str):
            where = f"{member}.ModelDataUrl"
            ModelSource.from_model_data_url(url)
        elif isinstance(artifact, str):
            where = f"{member}.ArtifactUrl"
            ModelSource.from_artifact_url(artifact)
        elif isinstance(source, Mapping):
            where = f"{member}.ModelDataSource"
            ModelSource.from_model_data_source(source)
    except ArtifactError as exc:
        raise ValidationError(f"{where} cannot be used: {exc}.") from None
    except ValueError as exc:  # urllib's own complaints (an unclosed "[" in the host...)
        raise ValidationError(f"{where} is not a usable URL: {exc}.") from None
