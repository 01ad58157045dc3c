"""Checks of the local paths a request names, against the server's file roots.

Model data (``ModelDataUrl``, ``ModelDataSource.S3DataSource.S3Uri``, an
inference component's ``Container.ArtifactUrl``), code locations and loader
variables in a container's ``Environment``, and capture destinations must lie
inside the roots ``moorage serve --file-root`` gave (:mod:`moorage.file_roots`);
``SAGEMAKER_PROGRAM`` must name a file in the model's ``code/`` directory
whether or not there are roots. Each check raises
:class:`~moorage.errors.ValidationError` naming the member at fault, before
anything is stored. Used by :mod:`moorage.control.models`,
:mod:`moorage.control.endpoint_configs`,
:mod:`moorage.control.inference_components` and
:mod:`moorage.control.experiments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.errors import ValidationError
from moorage.file_roots import PROGRAM, FileRoots, OutsideRoots, program_problem


def check_model(roots: FileRoots, params: Mapping[str, Any]) -> None:
    """CreateModel's ``PrimaryContainer`` or ``Containers``."""
    primary = params.get("PrimaryContainer")
    if primary:
        check_container(roots, "PrimaryContainer", primary)
    for index, container in enumerate(params.get("Containers") or (), start=1):
        check_container(roots, f"Containers.{index}", container)


def check_container(roots: FileRoots, member: str, container: Mapping[str, Any]) -> None:
    """One container definition (a model's, or an inference component's ``Container``)."""
    environment = container.get("Environment") or {}
    check_program(f"{member}.Environment", environment)
    try:
        for field in ("ModelDataUrl", "ArtifactUrl"):
            url = container.get(field)
            if isinstance(url, str):
                roots.check_location(f"{member}.{field}", url)
        source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
        uri = source.get("S3Uri")
        if isinstance(uri, str):
            roots.check_location(f"{member}.ModelDataSource.S3DataSource.S3Uri", uri)
        roots.check_environment(f"{member}.Environment", environment)
    except OutsideRoots as exc:
        raise ValidationError(str(exc)) from None


def check_program(member: str, environment: Mapping[str, str]) -> None:
    value = environment.get(PROGRAM)
    problem = program_problem(value) if isinstance(value, str) else None
    if problem is not None:
        raise ValidationError(f"{member}.{PROGRAM} {value!r} {problem}.")


def check_destination(roots: FileRoots, member: str, url: object) -> None:
    """A capture destination (``DestinationS3Uri``, ``DataStorageConfig.Destination``)."""
    if not isinstance(url, str):
        return
    try:
        roots.check_location(member, url)
    except OutsideRoots as exc:
        raise ValidationError(str(exc)) from None
