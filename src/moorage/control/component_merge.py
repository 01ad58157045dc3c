"""UpdateInferenceComponent's ``Specification``, merged over the stored one.

An update names only what it changes. The SageMaker SDK's
``Predictor.update_predictor(resources=...)`` sends a Specification holding
``ComputeResourceRequirements`` alone; scripts move an adapter to new
artifacts with ``Container.ArtifactUrl`` alone. As on AWS, every member the
update leaves out keeps its stored value:

- a top-level member given (``ComputeResourceRequirements``,
  ``StartupParameters``, ``ModelName``, ``DataCacheConfig``,
  ``SchedulingConfig``, ``BaseInferenceComponentName``...) replaces the
  stored one whole: the requirements sent are the new requirements;
- ``Container`` is merged member by member (``Image``, ``ArtifactUrl``,
  ``Environment``, the last replaced whole), so a new image keeps the
  artifacts and the environment;
- ``ModelName`` and ``Container`` are alternatives: giving one drops the
  other's stored value.

The merged specification is then checked like a new one
(:mod:`moorage.control.component_spec`). Used by
:mod:`moorage.control.inference_components`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_CONTAINER = "Container"
_MODEL = "ModelName"


def merged_specification(stored: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` with the members of ``update`` laid over it (neither is changed)."""
    merged = dict(stored)
    if update.get(_MODEL):
        merged.pop(_CONTAINER, None)
    if update.get(_CONTAINER):
        merged.pop(_MODEL, None)
    for member, value in update.items():
        if member == _CONTAINER and isinstance(value, Mapping):
            kept = merged.get(_CONTAINER)
            container = {**(kept if isinstance(kept, Mapping) else {}), **value}
            if container:
                merged[_CONTAINER] = container
        else:
            merged[member] = value
    return merged
