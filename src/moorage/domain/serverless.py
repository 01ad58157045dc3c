"""A serverless variant's settings as they apply now.

A variant with ``ServerlessConfig`` (``MemorySizeInMB``, ``MaxConcurrency``,
optional ``ProvisionedConcurrency``) gets its settings from the endpoint
config; ``UpdateEndpointWeightsAndCapacities`` with a
``ServerlessUpdateConfig`` changes ``MaxConcurrency`` and
``ProvisionedConcurrency`` of the endpoint's variant without a new config,
recorded as an override on the endpoint's
:class:`~moorage.domain.endpoint.VariantState` (``serverless``).
:func:`effective` merges the two; the reconciler (warm copies), the data
plane (``MaxConcurrency``) and DescribeEndpoint (``CurrentServerlessConfig``)
all read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moorage.domain.endpoint_config import VariantSpec

# ProductionVariantServerlessConfig's members, in the order DescribeEndpoint shows them.
MEMBERS = ("MemorySizeInMB", "MaxConcurrency", "ProvisionedConcurrency")
# The members ServerlessUpdateConfig may change.
UPDATABLE = ("MaxConcurrency", "ProvisionedConcurrency")


@dataclass(frozen=True)
class ServerlessSettings:
    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "MemorySizeInMB": self.memory_mb,
            "MaxConcurrency": self.max_concurrency,
        }
        if self.provisioned_concurrency is not None:
            out["ProvisionedConcurrency"] = self.provisioned_concurrency
        return out


def effective(
    spec: VariantSpec | None, override: Iterable[tuple[str, int]] | None = None
) -> ServerlessSettings | None:
    """The variant's serverless settings (None for an instance-based variant).

    ``override`` is the variant state's ``ServerlessUpdateConfig`` members
    (``VariantState.serverless``), each replacing the config's.
    """
    if spec is None or not spec.serverless:
        return None
    given = spec.spec.get("ServerlessConfig")
    if not isinstance(given, Mapping):
        return None
    merged: dict[str, Any] = {k: given[k] for k in MEMBERS if given.get(k) is not None}
    for key, value in override or ():
        if key in UPDATABLE:
            merged[key] = value
    provisioned = merged.get("ProvisionedConcurrency")
    return ServerlessSettings(
        memory_mb=int(merged.get("MemorySizeInMB", 1024)),
        max_concurrency=int(merged.get("MaxConcurrency", 1)),
        provisioned_concurrency=int(provisioned) if provisioned is not None else None,
    )
