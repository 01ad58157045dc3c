"""Which model shapes moorage runs: the others are refused at CreateModel.

botocore's model admits shapes that the fleet (:mod:`moorage.fleet`) cannot
run today. Refusing them when the model is created, with a
``ValidationException`` naming the member at fault, beats accepting the
model and failing the endpoint minutes later. Refused (see
docs/api-coverage.md, "Models moorage does not run yet"):

- ``ModelPackageName`` (and ``InferenceSpecificationName``, which goes with it);
- ``AdditionalModelDataSources`` (the copy would run without them);
- model data the fleet cannot fetch: a ``ModelDataSource`` with a
  ``ManifestS3Uri``, a ``S3Prefix`` marked ``Gzip``, an ``S3Object`` whose key
  names a prefix, a URL that is neither S3 nor a local path.

Multi-model containers and multi-container models run (docs/multi-model.md)
under AWS's rules, checked here: every container of a model invoked
directly (``InferenceExecutionConfig.Mode`` ``Direct``) names its
``ContainerHostname``; at most one container of a model is in ``Mode``
``MultiModel``, and not in a model invoked directly; a ``MultiModel``
container's ``ModelDataUrl`` is the prefix its models live under (an S3
prefix or a local folder), never a ``ModelDataSource``.

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
from moorage.artifacts.locations import LocationKind, ModelSource, parse_location
from moorage.errors import ValidationError

_SEE = "see docs/api-coverage.md"


def check_runnable(params: Mapping[str, Any]) -> None:
    """Raise a ValidationError saying what is unsupported, if anything is."""
    mode = (params.get("InferenceExecutionConfig") or {}).get("Mode")
    containers: Sequence[Mapping[str, Any]] = params.get("Containers") or ()
    _check_containers(containers, direct=mode == "Direct")
    primary = params.get("PrimaryContainer")
    if primary:
        _check_container("PrimaryContainer", primary)
    for index, container in enumerate(containers, start=1):
        _check_container(f"Containers.{index}", container)


def _check_containers(containers: Sequence[Mapping[str, Any]], *, direct: bool) -> None:
    """The rules of multi-container models: hostnames when direct, one multi-model container."""
    if direct:
        for index, container in enumerate(containers, start=1):
            if not container.get("ContainerHostname"):
                raise ValidationError(
                    f"Containers.{index}.ContainerHostname is required: every container of a "
                    "model with InferenceExecutionConfig.Mode Direct is invoked by its "
                    "ContainerHostname."
                )
    multi = [i for i, c in enumerate(containers, start=1) if c.get("Mode") == "MultiModel"]
    if multi and direct:
        raise ValidationError(
            f"Containers.{multi[0]}.Mode MultiModel cannot be used with InferenceExecutionConfig"
            ".Mode Direct: a multi-model container can be the only container of a model or one "
            "step of a serial inference pipeline."
        )
    if len(multi) > 1:
        raise ValidationError(
            f"Containers.{multi[0]} and Containers.{multi[1]} are both in Mode MultiModel: a "
            "serial inference pipeline may include only one multi-model container."
        )


def _check_multi_model(member: str, container: Mapping[str, Any]) -> None:
    """A ``MultiModel`` container: its ``ModelDataUrl`` is where its models live."""
    if container.get("ModelDataSource"):
        raise ValidationError(
            f"{member}.ModelDataSource cannot be used with Mode MultiModel: name the S3 prefix "
            f"of the models in {member}.ModelDataUrl."
        )
    url = container.get("ModelDataUrl")
    if not isinstance(url, str) or not url:
        raise ValidationError(
            f"{member}.ModelDataUrl is required with Mode MultiModel: the S3 prefix (or local "
            "folder) under which each TargetModel names a model archive."
        )
    try:
        location = parse_location(url)
    except ArtifactError as exc:
        raise ValidationError(f"{member}.ModelDataUrl cannot be used: {exc}.") from None
    except ValueError as exc:
        raise ValidationError(f"{member}.ModelDataUrl is not a usable URL: {exc}.") from None
    if location.kind is LocationKind.LOCAL and location.local_path.is_file():
        raise ValidationError(
            f"{member}.ModelDataUrl {url} is a file: with Mode MultiModel it names the folder "
            "the models' archives are in."
        )


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
    if container.get("AdditionalModelDataSources"):
        raise ValidationError(
            "moorage does not give a container additional model data yet "
            f"({member}.AdditionalModelDataSources); {_SEE}"
        )
    if container.get("Mode") == "MultiModel":
        _check_multi_model(member, container)
        return
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
