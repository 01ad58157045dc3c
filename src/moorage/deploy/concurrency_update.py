"""``ServerlessUpdateConfig`` in UpdateEndpointWeightsAndCapacities: checked, then merged.

A serverless variant's ``MaxConcurrency`` and ``ProvisionedConcurrency``
change without a new endpoint config: the members given are recorded on the
endpoint's :class:`~moorage.domain.endpoint.VariantState` (``serverless``),
over the ones an earlier change recorded, and
:func:`moorage.domain.serverless.effective` merges them with the config's
``ServerlessConfig``. :func:`moorage.deploy.planning.plan_capacities` asks
:func:`serverless_override` for each variant of the request; errors are
:class:`~moorage.deploy.policy.PolicyError` naming the broken rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.deploy.policy import PolicyError
from moorage.domain.endpoint import VariantState
from moorage.domain.endpoint_config import VariantSpec
from moorage.domain.serverless import UPDATABLE, effective

Override = tuple[tuple[str, int], ...]


def serverless_override(
    variant: VariantState,
    item: Mapping[str, Any],
    *,
    serverless: bool,
    spec: VariantSpec | None,
    config_name: str,
) -> Override | None:
    """The variant's override once ``item`` (its ``DesiredWeightAndCapacity``) is applied.

    ``serverless``: the variant is served serverless now; ``spec``: the
    variant in the endpoint's config (None when that config was deleted).
    """
    change = item.get("ServerlessUpdateConfig")
    if not serverless:
        if change is not None:
            raise PolicyError(
                f'Variant "{variant.name}" has no ServerlessConfig: ServerlessUpdateConfig '
                "applies only to a serverless variant."
            )
        return variant.serverless
    if item.get("DesiredInstanceCount") is not None:
        raise PolicyError(
            f'Variant "{variant.name}" is serverless: DesiredInstanceCount cannot be specified '
            "for it (change its MaxConcurrency or ProvisionedConcurrency with "
            "ServerlessUpdateConfig)."
        )
    if change is None:
        return variant.serverless
    given = {key: int(change[key]) for key in UPDATABLE if change.get(key) is not None}
    if not given:
        raise PolicyError(
            f'ServerlessUpdateConfig of variant "{variant.name}" must specify MaxConcurrency '
            "or ProvisionedConcurrency."
        )
    merged = {**dict(variant.serverless or ()), **given}
    settings = effective(spec, merged.items())
    if settings is None:
        # The endpoint config was deleted while the endpoint serves it: the
        # other members (MemorySizeInMB) are gone, so nothing can be merged.
        raise PolicyError(
            f'Cannot change the serverless settings of variant "{variant.name}": its endpoint '
            f'configuration "{config_name}" no longer exists.'
        )
    provisioned = settings.provisioned_concurrency
    if provisioned is not None and provisioned > settings.max_concurrency:
        raise PolicyError(
            f'ProvisionedConcurrency ({provisioned}) of variant "{variant.name}" must be less '
            f"than or equal to its MaxConcurrency ({settings.max_concurrency})."
        )
    return tuple(sorted(merged.items()))
