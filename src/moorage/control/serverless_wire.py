"""How DescribeEndpoint shows a serverless variant (``ProductionVariant.ServerlessConfig``).

As AWS shows it: ``CurrentServerlessConfig`` is the serving config's
``ServerlessConfig`` (``MemorySizeInMB``, ``MaxConcurrency`` and, when
given, ``ProvisionedConcurrency``), ``DesiredServerlessConfig`` appears
while an update is on its way to a different one, and a serverless variant
has no instances to count: ``CurrentInstanceCount`` is 0 and there is no
``DesiredInstanceCount``. (moorage runs one model-server process for the
variant, see docs/endpoints.md; it is not an instance.) Used by
:mod:`moorage.control.endpoints` (``ProductionVariantSummary``) and
:mod:`moorage.control.pending` (``PendingProductionVariantSummary``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moorage.domain.endpoint_config import VariantSpec

_MEMBERS = ("MemorySizeInMB", "MaxConcurrency", "ProvisionedConcurrency")


def serverless_config(variant: VariantSpec | None) -> dict[str, Any] | None:
    """A variant's ``ServerlessConfig`` as a ``ProductionVariantServerlessConfig``."""
    if variant is None or not variant.serverless:
        return None
    given = variant.spec.get("ServerlessConfig")
    if not isinstance(given, Mapping):
        return None
    return {member: given[member] for member in _MEMBERS if given.get(member) is not None}


def add_serverless(
    wire: dict[str, Any], current: VariantSpec | None, desired: VariantSpec | None
) -> None:
    """Add the serverless members to a ``ProductionVariantSummary`` being built (``wire``).

    ``current`` is the variant as it serves now; ``desired`` as the update
    under way will serve it (None when no update is under way).
    """
    now = serverless_config(current)
    wanted = serverless_config(desired)
    if now is not None:
        wire["CurrentServerlessConfig"] = now
        wire["CurrentInstanceCount"] = 0
        if desired is None or wanted is not None:
            wire["DesiredInstanceCount"] = None
    if wanted is not None and wanted != now:
        wire["DesiredServerlessConfig"] = wanted


def add_pending_serverless(
    wire: dict[str, Any], desired: VariantSpec | None, serving: bool
) -> None:
    """Add them to a ``PendingProductionVariantSummary`` (a variant of the new config).

    ``serving``: the new fleet takes traffic already.
    """
    wanted = serverless_config(desired)
    if wanted is None:
        return
    wire["DesiredServerlessConfig"] = wanted
    if serving:
        wire["CurrentServerlessConfig"] = wanted
    wire["CurrentInstanceCount"] = 0
    wire["DesiredInstanceCount"] = None
