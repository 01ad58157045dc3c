"""What a variant's copy runs, from its model: one container, a multi-model one, or several.

The reconciler (:mod:`moorage.deploy.reconciler`) names the copy, its
instance and timeouts; :func:`variant_copy_spec` fills in what the model
asks for:

- a single-model container: its image, model data and environment;
- a multi-model container (``Mode`` ``MultiModel``): no model data (the
  router has the models loaded on demand, :mod:`moorage.runtime.multi_model`)
  and ``SAGEMAKER_MULTI_MODEL=true`` in its environment, as SageMaker sets it;
- several ``Containers``: one member spec per container
  (:mod:`moorage.fleet.container_set` starts a process for each), named
  after its ``ContainerHostname`` (``container-<index>`` when it has none),
  logging to ``{VariantName}/{instance-id}/{container}`` as SageMaker's
  inference pipelines do, all on the copy's instance (their usage adds up
  there, as the containers of one SageMaker instance share it).
"""

from __future__ import annotations

from dataclasses import replace

from moorage.domain.model import Container, Model
from moorage.fleet.base import CopyPlacement, CopySpec

MULTI_MODEL_ENV = "SAGEMAKER_MULTI_MODEL"


def variant_copy_spec(
    model: Model,
    *,
    copy_id: str,
    endpoint: str,
    variant: str,
    startup_timeout_s: float,
    download_timeout_s: float,
    placement: CopyPlacement,
    log_stream: str,
) -> CopySpec:
    base = CopySpec(
        copy_id=copy_id,
        endpoint=endpoint,
        variant=variant,
        image="",
        model_data=None,
        startup_timeout_s=startup_timeout_s,
        download_timeout_s=download_timeout_s,
        placement=placement,
        log_stream=log_stream,
    )
    if len(model.containers) == 1 and not model.direct:
        return _container(base, model.primary)
    members = tuple(
        replace(
            _container(base, container),
            copy_id=f"{copy_id}-{name}",
            container=name,
            log_stream=f"{log_stream}/{name}",
        )
        for name, container in zip(model.container_names(), model.containers, strict=True)
    )
    # The set's own image is its first container's (what DescribeEndpoint shows first).
    return replace(base, image=members[0].image, containers=members, direct=model.direct)


def _container(base: CopySpec, container: Container) -> CopySpec:
    if container.multi_model is not None:
        return replace(
            base,
            image=container.image,
            environment=container.environment,
            multi_model=container.multi_model,
            platform_env={MULTI_MODEL_ENV: "true"},
        )
    return replace(
        base,
        image=container.image,
        model_data=container.model_data,
        environment=container.environment,
    )
