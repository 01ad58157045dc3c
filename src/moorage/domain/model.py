"""Models: containers with an image, model data and an environment.

A model runs one container, or several (``Containers``) invoked one after the
other (a serial inference pipeline) or one at a time by name
(``InferenceExecutionConfig.Mode`` ``Direct``); a container in ``Mode``
``MultiModel`` loads its models on demand (docs/multi-model.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moorage.store.base import Record

KIND = "model"


@dataclass(frozen=True)
class ModelData:
    """Where a container's model data lives.

    ``url`` is an ``s3://`` URL, a ``file://`` URL or an absolute path;
    ``prefix`` means "every object under this prefix" (S3Prefix) and
    ``compressed`` means a ``.tar.gz`` to extract; ``etag`` (``S3DataSource.ETag``)
    pins the object's version.
    """

    url: str
    prefix: bool = False
    compressed: bool = True
    etag: str | None = None


@dataclass(frozen=True)
class MultiModelData:
    """A multi-model container's models (``Mode`` ``MultiModel``).

    ``prefix`` is the ``ModelDataUrl``: an ``s3://`` prefix, a ``file://``
    folder or an absolute path, under which ``TargetModel`` names a model
    archive; ``cache`` is false when ``MultiModelConfig.ModelCacheSetting``
    is ``Disabled`` (a model is loaded for each request and unloaded after).
    """

    prefix: str
    cache: bool = True


@dataclass(frozen=True)
class Container:
    image: str
    # None for a multi-model container: its models are loaded on demand (multi_model).
    model_data: ModelData | None
    environment: Mapping[str, str] = field(default_factory=dict)
    hostname: str | None = None
    mode: str = "SingleModel"
    multi_model: MultiModelData | None = None


@dataclass(frozen=True)
class Model:
    name: str
    arn: str
    created: float
    containers: tuple[Container, ...]
    execution_role_arn: str | None
    inference_mode: str
    spec: Mapping[str, Any]

    @property
    def primary(self) -> Container:
        return self.containers[0]

    @property
    def direct(self) -> bool:
        """Whether each request names its container (``InferenceExecutionConfig`` Direct)."""
        return self.inference_mode == "Direct"

    def container_names(self) -> tuple[str, ...]:
        """Each container's name: its ``ContainerHostname``, else ``container-<index>``."""
        return tuple(c.hostname or f"container-{index}" for index, c in enumerate(self.containers))


def container_from_spec(spec: Mapping[str, Any]) -> Container:
    data: ModelData | None = None
    if spec.get("Mode") == "MultiModel" and spec.get("ModelDataUrl"):
        setting = (spec.get("MultiModelConfig") or {}).get("ModelCacheSetting")
        return Container(
            image=str(spec.get("Image", "")),
            model_data=None,
            environment=dict(spec.get("Environment", {})),
            hostname=spec.get("ContainerHostname"),
            mode="MultiModel",
            multi_model=MultiModelData(str(spec["ModelDataUrl"]), cache=setting != "Disabled"),
        )
    if spec.get("ModelDataUrl"):
        data = ModelData(url=str(spec["ModelDataUrl"]))
    elif spec.get("ModelDataSource", {}).get("S3DataSource"):
        source = spec["ModelDataSource"]["S3DataSource"]
        data = ModelData(
            url=str(source["S3Uri"]),
            prefix=source.get("S3DataType") == "S3Prefix",
            compressed=source.get("CompressionType") == "Gzip",
            etag=source.get("ETag"),
        )
    return Container(
        image=str(spec.get("Image", "")),
        model_data=data,
        environment=dict(spec.get("Environment", {})),
        hostname=spec.get("ContainerHostname"),
        mode=str(spec.get("Mode", "SingleModel")),
    )


def model_from_record(record: Record) -> Model:
    spec = record.doc["spec"]
    raw_containers = (
        [spec["PrimaryContainer"]] if "PrimaryContainer" in spec else spec.get("Containers", [])
    )
    return Model(
        name=record.name,
        arn=record.arn,
        created=record.created,
        containers=tuple(container_from_spec(c) for c in raw_containers),
        execution_role_arn=spec.get("ExecutionRoleArn"),
        inference_mode=str(spec.get("InferenceExecutionConfig", {}).get("Mode", "Serial")),
        spec=spec,
    )
