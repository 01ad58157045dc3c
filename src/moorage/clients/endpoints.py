"""``moorage ls``, ``status`` and ``wait``: endpoints as a person reads them.

Everything here reads the server's ordinary APIs with boto3 clients made by
:meth:`moorage.auth.signing.Access.client` (so with the user's key):
ListEndpoints and DescribeEndpoint, ListInferenceComponents and
DescribeInferenceComponent, and CloudWatch DescribeAlarms for the rollback
alarms of the endpoint's deployment config. :func:`endpoint_status`
gathers one endpoint's document; the ``format_*`` functions and
:func:`progress` turn documents into the lines the commands print.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

# Components described per ``status`` at most (each is one DescribeInferenceComponent).
MAX_COMPONENTS = 100


def _pages(call: Any, key: str, **request: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        answer = call(**request, **({"NextToken": token} if token else {}))
        yield from answer.get(key, [])
        token = answer.get("NextToken")
        if not token:
            return


def list_endpoints(sagemaker: Any) -> list[dict[str, Any]]:
    """Every endpoint, described, by name."""
    names = sorted(e["EndpointName"] for e in _pages(sagemaker.list_endpoints, "Endpoints"))
    described = []
    for name in names:
        try:
            described.append(sagemaker.describe_endpoint(EndpointName=name))
        except ClientError:
            continue  # deleted between the list and the describe
    return described


def rollback_alarms(endpoint: Mapping[str, Any]) -> list[str]:
    """The names of the alarms that roll the endpoint's updates back."""
    config = endpoint.get("LastDeploymentConfig") or {}
    alarms = (config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    return [str(a["AlarmName"]) for a in alarms if "AlarmName" in a]


def endpoint_status(sagemaker: Any, cloudwatch: Any, name: str) -> dict[str, Any]:
    """``{"Endpoint": DescribeEndpoint, "InferenceComponents": [...], "Alarms": [...]}``."""
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    components = []
    summaries = _pages(
        sagemaker.list_inference_components, "InferenceComponents", EndpointNameEquals=name
    )
    for index, summary in enumerate(summaries):
        if index >= MAX_COMPONENTS:
            break
        try:
            components.append(
                sagemaker.describe_inference_component(
                    InferenceComponentName=summary["InferenceComponentName"]
                )
            )
        except ClientError:
            continue
    names = rollback_alarms(endpoint)
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] if names else []
    return {"Endpoint": endpoint, "InferenceComponents": components, "Alarms": alarms}


# -- text -------------------------------------------------------------------------


def age(seconds: float) -> str:
    """``45s``, ``12m``, ``3h``, ``2d``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _since(moment: Any, now: datetime.datetime) -> float:
    if isinstance(moment, datetime.datetime):
        return (now - moment).total_seconds()
    return 0.0


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; columns with no value left out."""
    keep = [i for i in range(len(header)) if any(str(r[i]) for r in rows)]
    header = [header[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    head = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    return "\n".join(line.rstrip() for line in [head, *lines])


def _count(current: Any, desired: Any) -> str:
    return f"{current if current is not None else '-'}/{desired if desired is not None else '-'}"


def variant_brief(variant: Mapping[str, Any], several: bool) -> str:
    """``AllTraffic 1/1`` (instances current/desired), ``@0.5`` weight when there are several."""
    if variant.get("CurrentServerlessConfig") or variant.get("DesiredServerlessConfig"):
        counts = "serverless"
    else:
        counts = _count(variant.get("CurrentInstanceCount"), variant.get("DesiredInstanceCount"))
    weight = f"@{float(variant.get('CurrentWeight', 0.0)):g}" if several else ""
    return f"{variant['VariantName']} {counts}{weight}"


def format_list(endpoints: Sequence[Mapping[str, Any]], now: datetime.datetime) -> str:
    """The ``moorage ls`` table: name, status, production variants, age."""
    if not endpoints:
        return "no endpoints"
    rows = []
    for endpoint in endpoints:
        variants = endpoint.get("ProductionVariants") or []
        several = len(variants) > 1
        rows.append(
            (
                str(endpoint["EndpointName"]),
                str(endpoint["EndpointStatus"]),
                ", ".join(variant_brief(v, several) for v in variants) or "-",
                age(_since(endpoint.get("CreationTime"), now)),
            )
        )
    return table(("NAME", "STATUS", "VARIANTS (instances now/wanted)", "AGE"), rows)


def _variant_rows(variants: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for v in variants:
        statuses = v.get("VariantStatus") or []
        status = "; ".join(
            f"{s.get('Status')}: {s.get('StatusMessage')}"
            if s.get("StatusMessage")
            else s["Status"]
            for s in statuses
        )
        serverless = v.get("CurrentServerlessConfig") or v.get("DesiredServerlessConfig")
        rows.append(
            (
                str(v["VariantName"]),
                f"{float(v.get('CurrentWeight', 0.0)):g}/{float(v.get('DesiredWeight', 0.0)):g}",
                "serverless"
                if serverless
                else _count(v.get("CurrentInstanceCount"), v.get("DesiredInstanceCount")),
                str(v.get("InstanceType") or ""),
                status or "-",
            )
        )
    return rows


_VARIANT_HEADER = ("VARIANT", "WEIGHT now/wanted", "INSTANCES now/wanted", "TYPE", "STATUS")


def format_status(document: Mapping[str, Any], now: datetime.datetime) -> str:
    """The ``moorage status`` text: the endpoint, its variants, rollout, components, alarms."""
    endpoint = document["Endpoint"]
    lines = [
        f"endpoint {endpoint['EndpointName']}: {endpoint['EndpointStatus']}"
        f" (endpoint config {endpoint.get('EndpointConfigName')}, created "
        f"{age(_since(endpoint.get('CreationTime'), now))} ago, last modified "
        f"{age(_since(endpoint.get('LastModifiedTime'), now))} ago)"
    ]
    if endpoint.get("FailureReason"):
        lines.append(f"last failure: {endpoint['FailureReason']}")
    lines += ["", table(_VARIANT_HEADER, _variant_rows(endpoint.get("ProductionVariants") or []))]
    shadows = endpoint.get("ShadowProductionVariants") or []
    if shadows:
        lines += ["", "shadow variants:", table(_VARIANT_HEADER, _variant_rows(shadows))]
    pending = endpoint.get("PendingDeploymentSummary")
    if pending:
        lines += [
            "",
            f"rollout to endpoint config {pending.get('EndpointConfigName')}, started "
            f"{age(_since(pending.get('StartTime'), now))} ago:",
            table(_VARIANT_HEADER, _variant_rows(pending.get("ProductionVariants") or [])),
        ]
        if pending.get("ShadowProductionVariants"):
            lines.append(table(_VARIANT_HEADER, _variant_rows(pending["ShadowProductionVariants"])))
    components = document.get("InferenceComponents") or []
    if components:
        rows: list[tuple[str, ...]] = []
        for c in components:
            runtime = c.get("RuntimeConfig") or {}
            rows.append(
                (
                    str(c["InferenceComponentName"]),
                    str(c.get("VariantName", "")),
                    str(c.get("InferenceComponentStatus", "")),
                    _count(runtime.get("CurrentCopyCount"), runtime.get("DesiredCopyCount")),
                    str(c.get("FailureReason") or ""),
                )
            )
        header = ("COMPONENT", "VARIANT", "STATUS", "COPIES now/wanted", "LAST FAILURE")
        lines += ["", table(header, rows)]
    alarms = document.get("Alarms") or []
    if alarms:
        rows = [
            (str(a["AlarmName"]), str(a.get("StateValue", "")), str(a.get("StateReason", "")))
            for a in alarms
        ]
        lines += ["", "rollback alarms:", table(("ALARM", "STATE", "REASON"), rows)]
    return "\n".join(lines)


def progress(endpoint: Mapping[str, Any], waited_s: float) -> str:
    """One line of ``moorage wait``: status, time waited, and where each variant stands."""
    pending = endpoint.get("PendingDeploymentSummary")
    variants = (pending or endpoint).get("ProductionVariants") or []
    parts = []
    for v in variants:
        counts = _count(v.get("CurrentInstanceCount"), v.get("DesiredInstanceCount"))
        statuses = v.get("VariantStatus") or []
        doing = f" {statuses[0].get('StatusMessage') or statuses[0]['Status']}" if statuses else ""
        parts.append(f"{v['VariantName']} {counts} instances{doing}")
    where = f" - {'; '.join(parts)}" if parts else ""
    return f"{endpoint['EndpointName']}: {endpoint['EndpointStatus']} {age(waited_s)}{where}"
