"""What ``moorage ls``, ``status`` and ``wait`` print, from DescribeEndpoint-shaped answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from moorage.clients.endpoints import age, format_list, format_status, progress, table

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def described(name: str, status: str, *variants: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "EndpointName": name,
        "EndpointConfigName": f"{name}-c1",
        "EndpointStatus": status,
        "CreationTime": NOW - dt.timedelta(minutes=90),
        "LastModifiedTime": NOW - dt.timedelta(seconds=30),
        "ProductionVariants": list(variants),
        **extra,
    }


def variant(name: str, current: int, desired: int, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "CurrentWeight": weight,
        "DesiredWeight": weight,
        "CurrentInstanceCount": current,
        "DesiredInstanceCount": desired,
    }


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59.9, "59s"), (60, "1m"), (7200, "2h"), (3 * 86400, "3d")]
)
def test_ages(seconds: float, text: str) -> None:
    assert age(seconds) == text


def test_ls_shows_weights_only_when_there_are_several_variants() -> None:
    text = format_list(
        [
            described("iris", "InService", variant("AllTraffic", 1, 1)),
            described("shop", "Updating", variant("Blue", 2, 2, 0.9), variant("Green", 0, 1, 0.1)),
            described(
                "tiny",
                "InService",
                {"VariantName": "S", "CurrentServerlessConfig": {"MaxConcurrency": 5}},
            ),
        ],
        NOW,
    )
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "VARIANTS", "(instances", "now/wanted)", "AGE"]
    assert lines[1].split() == ["iris", "InService", "AllTraffic", "1/1", "1h"]
    assert lines[2].split() == ["shop", "Updating", "Blue", "2/2@0.9,", "Green", "0/1@0.1", "1h"]
    assert lines[3].split() == ["tiny", "InService", "S", "serverless", "1h"]
    assert format_list([], NOW) == "no endpoints"


def test_status_shows_the_rollout_components_and_alarms() -> None:
    pending = {
        "EndpointConfigName": "shop-c2",
        "StartTime": NOW - dt.timedelta(seconds=75),
        "ProductionVariants": [
            {
                **variant("AllTraffic", 1, 2, 1.0),
                "CurrentWeight": 0.25,
                "InstanceType": "ml.m5.large",
                "VariantStatus": [{"Status": "Baking", "StatusMessage": "Canary: 1 of traffic"}],
            }
        ],
    }
    document = {
        "Endpoint": described(
            "shop",
            "Updating",
            variant("AllTraffic", 2, 2),
            PendingDeploymentSummary=pending,
            FailureReason="an earlier update was rolled back",
        ),
        "InferenceComponents": [
            {
                "InferenceComponentName": "adapter",
                "VariantName": "AllTraffic",
                "InferenceComponentStatus": "InService",
                "RuntimeConfig": {"CurrentCopyCount": 1, "DesiredCopyCount": 2},
            }
        ],
        "Alarms": [{"AlarmName": "shop-5xx", "StateValue": "OK", "StateReason": "fine"}],
    }
    lines = format_status(document, NOW).splitlines()
    assert lines[0] == (
        "endpoint shop: Updating (endpoint config shop-c1, created 1h ago, last modified 30s ago)"
    )
    assert lines[1] == "last failure: an earlier update was rolled back"
    assert "rollout to endpoint config shop-c2, started 1m ago:" in lines
    rollout = lines[lines.index("rollout to endpoint config shop-c2, started 1m ago:") + 2]
    assert rollout.split() == [
        "AllTraffic",
        "0.25/1",
        "1/2",
        "ml.m5.large",
        "Baking:",
        "Canary:",
        "1",
        "of",
        "traffic",
    ]
    assert any(line.split() == ["adapter", "AllTraffic", "InService", "1/2"] for line in lines)
    assert lines[-1].split() == ["shop-5xx", "OK", "fine"]


def test_the_wait_line_follows_the_rollout_during_an_update() -> None:
    creating = {**variant("AllTraffic", 0, 1), "VariantStatus": [{"Status": "Creating"}]}
    endpoint = described("iris", "Creating", creating)
    assert progress(endpoint, 3.2) == "iris: Creating 3s - AllTraffic 0/1 instances Creating"
    baking = {"Status": "Baking", "StatusMessage": "Canary: 1 of traffic"}
    pending = {"ProductionVariants": [{**variant("New", 1, 2), "VariantStatus": [baking]}]}
    updating = described("iris", "Updating", variant("AllTraffic", 2, 2))
    updating["PendingDeploymentSummary"] = pending
    assert progress(updating, 61) == "iris: Updating 1m - New 1/2 instances Canary: 1 of traffic"


def test_tables_leave_out_columns_without_values() -> None:
    assert table(("A", "B", "C"), [("x", "", "long value"), ("yy", "", "v")]) == (
        "A   C\nx   long value\nyy  v"
    )
