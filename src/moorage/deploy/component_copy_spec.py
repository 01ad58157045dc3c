"""What a copy of an inference component runs: image, model data, environment, devices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.deploy.copy_placement import for_component
from moorage.domain import endpoint_config as config_domain
from moorage.domain import model as model_domain
from moorage.domain.endpoint_config import VariantSpec
from moorage.domain.model import ModelData
from moorage.fleet.base import CopySpec
from moorage.placement import InstanceType, visible_devices_env
from moorage.store.base import Store


class ComponentProblem(Exception):
    """The component's model can no longer be used (deleted, several containers)."""


def copy_spec(
    store: Store,
    *,
    copy_id: str,
    endpoint: str,
    component: str,
    variant: str,
    spec: Mapping[str, Any],
    variant_spec: VariantSpec | None,
    instance_type: InstanceType,
    devices: tuple[int, ...],
    instance_id: str | None = None,
    log_stream: str = "",
) -> CopySpec:
    """The fleet's start request for one copy.

    The image, model data and environment come from the component's model
    (``ModelName``) or its ``Container``; the startup timeouts from its
    ``StartupParameters``, else the variant's, else SageMaker's defaults; the
    accelerator devices the scheduler reserved become ``CUDA_VISIBLE_DEVICES``
    (``NEURON_RT_VISIBLE_CORES`` on Inferentia and Trainium). As on AWS, a
    copy caches its model data only with ``DataCacheConfig.EnableCaching``:
    otherwise it downloads, extracts and installs its own.
    """
    model_name = spec.get("ModelName")
    if model_name:
        record = store.get(model_domain.KIND, model_name)
        if record is None:
            raise ComponentProblem(f'Could not find model "{model_name}".')
        model = model_domain.model_from_record(record)
        if len(model.containers) != 1:
            raise ComponentProblem(
                f"Model {model.name} has {len(model.containers)} containers; an inference "
                "component deploys a single-container model."
            )
        image = model.primary.image
        data = model.primary.model_data
        environment = dict(model.primary.environment)
    else:
        container = spec.get("Container") or {}
        image = str(container.get("Image", ""))
        url = container.get("ArtifactUrl")
        data = ModelData(url=str(url)) if url else None
        environment = dict(container.get("Environment") or {})
    startup = spec.get("StartupParameters") or {}
    startup_s = startup.get("ContainerStartupHealthCheckTimeoutInSeconds") or (
        variant_spec.startup_timeout_s if variant_spec else config_domain.DEFAULT_STARTUP_TIMEOUT_S
    )
    download_s = startup.get("ModelDataDownloadTimeoutInSeconds") or (
        variant_spec.download_timeout_s
        if variant_spec
        else config_domain.DEFAULT_DOWNLOAD_TIMEOUT_S
    )
    cache = spec.get("DataCacheConfig")
    return CopySpec(
        copy_id=copy_id,
        endpoint=endpoint,
        variant=variant,
        image=image,
        model_data=data,
        environment=environment,
        startup_timeout_s=float(startup_s),
        download_timeout_s=float(download_s),
        platform_env=visible_devices_env(instance_type, devices),
        use_cache=bool(cache.get("EnableCaching")) if cache else False,
        component=component,
        placement=for_component(instance_type, instance_id or copy_id, spec),
        log_stream=log_stream,
    )
