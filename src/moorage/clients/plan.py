"""``moorage plan``: ask a running server for an update's timeline and print it.

Python API: :func:`fetch_plan` returns the plan document (see
``docs/deployments.md``); :func:`moorage.deploy.plan_format.format_plan`
renders it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from moorage.auth.signing import Access
from moorage.clients.pages import fetch_document


def fetch_plan(
    access: Access,
    endpoint_name: str,
    endpoint_config_name: str,
    *,
    deployment_config: Mapping[str, Any] | None = None,
    retain_all_variant_properties: bool = False,
    exclude_retained_variant_properties: tuple[str, ...] = (),
    retain_deployment_config: bool = False,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "EndpointName": endpoint_name,
        "EndpointConfigName": endpoint_config_name,
    }
    if deployment_config is not None:
        request["DeploymentConfig"] = deployment_config
    if retain_all_variant_properties:
        request["RetainAllVariantProperties"] = True
    if exclude_retained_variant_properties:
        request["ExcludeRetainedVariantProperties"] = [
            {"VariantPropertyType": p} for p in exclude_retained_variant_properties
        ]
    if retain_deployment_config:
        request["RetainDeploymentConfig"] = True
    http_request = access.request(
        "POST",
        "/moorage/plan",
        json.dumps(request).encode(),
        {"Content-Type": "application/json"},
    )
    return fetch_document(http_request, timeout_s)
