"""How DescribeEndpoint shows a serverless variant (``ProductionVariant.ServerlessConfig``).

As AWS shows it: ``CurrentServerlessConfig`` is the variant's effective
settings (``MemorySizeInMB``, ``MaxConcurrency`` and, when set,
``ProvisionedConcurrency``): the serving config's ``ServerlessConfig`` with
the members an ``UpdateEndpointWeightsAndCapacities`` changed
(:func:`moorage.domain.serverless.effective`). ``DesiredServerlessConfig``
appears while an update (a new config, or a ``ServerlessUpdateConfig``) is
on its way to different settings, and a serverless variant has no
instances to count: ``CurrentInstanceCount`` is 0 and there is no
``DesiredInstanceCount``. (moorage serves the variant with model-server
processes, see docs/endpoints.md; they are not instances.) Used by
:mod:`moorage.control.endpoints` (``ProductionVariantSummary``) and
:mod:`moorage.control.pending` (``PendingProductionVariantSummary``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.deploy.deployment import Deployment
from moorage.domain.endpoint import Endpoint, VariantState
from moorage.domain.endpoint_config import VariantSpec
from moorage.domain.serverless import effective

Override = tuple[tuple[str, int], ...] | None


def serverless_config(
    variant: VariantSpec | None, override: Override = None
) -> dict[str, Any] | None:
    """A variant's settings as a ``ProductionVariantServerlessConfig`` (None: not serverless)."""
    settings = effective(variant, override)
    return settings.to_api() if settings is not None else None


def capacity_change(endpoint: Endpoint) -> Mapping[str, VariantState]:
    """The variant states an UpdateEndpointWeightsAndCapacities under way moves to, by name.

    Empty when no such change is under way (an UpdateEndpoint's new
    variants are the pending config's, shown from that config).
    """
    if endpoint.deployment is None:
        return {}
    deployment = Deployment.from_doc(endpoint.deployment)
    if deployment.rollout.kind != "capacity":
        return {}
    return {v.name: v for v in deployment.new_variants}


def add_serverless(
    wire: dict[str, Any],
    current: VariantSpec | None,
    desired: VariantSpec | None,
    *,
    override: Override = None,
    desired_override: Override = None,
) -> None:
    """Add the serverless members to a ``ProductionVariantSummary`` being built (``wire``).

    ``current`` is the variant as it serves now, with its recorded
    ``override``; ``desired`` as the update under way will serve it, with
    ``desired_override`` (``desired`` None when no update is under way).
    """
    now = serverless_config(current, override)
    wanted = serverless_config(desired, desired_override)
    if now is not None:
        wire["CurrentServerlessConfig"] = now
        wire["CurrentInstanceCount"] = 0
        if desired is None or wanted is not None:
            wire["DesiredInstanceCount"] = None
    if wanted is not None and wanted != now:
        wire["DesiredServerlessConfig"] = wanted


def add_pending_serverless(
    wire: dict[str, Any], desired: VariantSpec | None, serving: bool, override: Override = None
) -> None:
    """Add them to a ``PendingProductionVariantSummary`` (a variant of the new config).

    ``serving``: the new fleet takes traffic already; ``override``: the
    variant state's (none for a new config's variant).
    """
    wanted = serverless_config(desired, override)
    if wanted is None:
        return
    wire["DesiredServerlessConfig"] = wanted
    if serving:
        wire["CurrentServerlessConfig"] = wanted
    wire["CurrentInstanceCount"] = 0
    wire["DesiredInstanceCount"] = None
