"""DeploymentConfig parsing and AWS's rules, at their boundaries."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.deploy.policy import (
    DEFAULT_POLICY,
    BlueGreen,
    PolicyError,
    Rolling,
    Routing,
    Size,
    SizeType,
    check_policy,
    parse_policy,
)
from support.rollouts import T0, config, serving, updating


def blue_green(kind: str, wait: int = 0, **traffic: Any) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": kind, "WaitIntervalInSeconds": wait, **traffic}
        }
    }


def rolling(kind: str, value: int, wait: int = 0, **more: Any) -> dict[str, Any]:
    return {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": kind, "Value": value},
            "WaitIntervalInSeconds": wait,
            **more,
        }
    }


def check(doc: dict[str, Any] | None, count: int, *, total_wait_s: float = 0.0) -> None:
    check_policy(
        parse_policy(doc),
        {"AllTraffic": count},
        same_variants=True,
        explicit=doc is not None,
        total_wait_s=total_wait_s,
    )


def test_no_config_is_blue_green_all_at_once() -> None:
    assert parse_policy(None) == DEFAULT_POLICY
    assert parse_policy({}) == DEFAULT_POLICY
    update = DEFAULT_POLICY.update
    assert isinstance(update, BlueGreen)
    assert update.routing is Routing.ALL_AT_ONCE
    assert (update.wait_s, update.termination_wait_s, update.max_execution_s) == (0, 0, 28800)


def test_alarms_only_keeps_the_default_update() -> None:
    policy = parse_policy(
        {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}, {"AlarmName": "b"}]}}
    )
    assert policy.update == DEFAULT_POLICY.update
    assert policy.alarms == ("a", "b")


def test_blue_green_fields() -> None:
    doc = blue_green("CANARY", 120, CanarySize={"Type": "INSTANCE_COUNT", "Value": 1})
    doc["BlueGreenUpdatePolicy"] |= {
        "TerminationWaitInSeconds": 60,
        "MaximumExecutionTimeoutInSeconds": 900,
    }
    policy = parse_policy(doc)
    assert policy.kind == "BLUE_GREEN/CANARY"
    assert policy.update == BlueGreen(
        Routing.CANARY, 120, Size(SizeType.INSTANCE_COUNT, 1), None, 60, 900
    )


def test_rolling_fields() -> None:
    doc = rolling(
        "CAPACITY_PERCENT",
        25,
        30,
        RollbackMaximumBatchSize={"Type": "INSTANCE_COUNT", "Value": 2},
        MaximumExecutionTimeoutInSeconds=1200,
    )
    policy = parse_policy(doc)
    assert policy.kind == "ROLLING"
    assert policy.update == Rolling(
        Size(SizeType.CAPACITY_PERCENT, 25), 30, 1200, Size(SizeType.INSTANCE_COUNT, 2)
    )


def test_both_policies_at_once() -> None:
    doc = blue_green("ALL_AT_ONCE") | rolling("INSTANCE_COUNT", 1)
    with pytest.raises(PolicyError, match="either BlueGreenUpdatePolicy or RollingUpdatePolicy"):
        parse_policy(doc)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (blue_green("CANARY"), "CanarySize is required"),
        (blue_green("LINEAR"), "LinearStepSize is required"),
        (
            blue_green("ALL_AT_ONCE", CanarySize={"Type": "INSTANCE_COUNT", "Value": 1}),
            "CanarySize may only be given",
        ),
        (
            blue_green("CANARY", LinearStepSize={"Type": "INSTANCE_COUNT", "Value": 1}),
            "CanarySize is required",
        ),
        (
            blue_green(
                "CANARY",
                CanarySize={"Type": "INSTANCE_COUNT", "Value": 1},
                LinearStepSize={"Type": "INSTANCE_COUNT", "Value": 1},
            ),
            "LinearStepSize may only be given",
        ),
    ],
)
def test_sizes_belong_to_their_routing(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(doc)


@pytest.mark.parametrize(
    ("size", "count", "ok"),
    [
        ({"Type": "CAPACITY_PERCENT", "Value": 50}, 4, True),
        ({"Type": "CAPACITY_PERCENT", "Value": 51}, 4, False),
        ({"Type": "INSTANCE_COUNT", "Value": 2}, 4, True),
        ({"Type": "INSTANCE_COUNT", "Value": 3}, 4, False),
        ({"Type": "INSTANCE_COUNT", "Value": 1}, 1, False),  # one instance is 100 %
        ({"Type": "INSTANCE_COUNT", "Value": 1}, 2, True),
    ],
)
def test_canary_at_most_half(size: dict[str, Any], count: int, ok: bool) -> None:
    doc = blue_green("CANARY", CanarySize=size)
    if ok:
        check(doc, count)
    else:
        with pytest.raises(PolicyError, match="is more than 50%"):
            check(doc, count)


@pytest.mark.parametrize(
    ("size", "count", "ok"),
    [
        ({"Type": "CAPACITY_PERCENT", "Value": 10}, 10, True),
        ({"Type": "CAPACITY_PERCENT", "Value": 9}, 10, False),
        ({"Type": "CAPACITY_PERCENT", "Value": 50}, 10, True),
        ({"Type": "CAPACITY_PERCENT", "Value": 51}, 10, False),
        ({"Type": "INSTANCE_COUNT", "Value": 1}, 10, True),  # 10 %
        ({"Type": "INSTANCE_COUNT", "Value": 1}, 11, False),  # 9.1 %
        ({"Type": "INSTANCE_COUNT", "Value": 5}, 10, True),
        ({"Type": "INSTANCE_COUNT", "Value": 6}, 10, False),
    ],
)
def test_linear_between_10_and_50_percent(size: dict[str, Any], count: int, ok: bool) -> None:
    doc = blue_green("LINEAR", LinearStepSize=size)
    if ok:
        check(doc, count)
    else:
        with pytest.raises(PolicyError, match="must be between 10% and 50%"):
            check(doc, count)


@pytest.mark.parametrize(
    ("kind", "value", "count", "ok"),
    [
        ("CAPACITY_PERCENT", 5, 20, True),
        ("CAPACITY_PERCENT", 4, 20, False),
        ("CAPACITY_PERCENT", 50, 20, True),
        ("CAPACITY_PERCENT", 51, 20, False),
        ("INSTANCE_COUNT", 1, 20, True),  # 5 %
        ("INSTANCE_COUNT", 1, 21, False),
        ("INSTANCE_COUNT", 10, 20, True),
        ("INSTANCE_COUNT", 11, 20, False),
    ],
)
def test_rolling_batch_between_5_and_50_percent(
    kind: str, value: int, count: int, ok: bool
) -> None:
    doc = rolling(kind, value)
    if ok:
        check(doc, count)
    else:
        with pytest.raises(PolicyError, match="must be between 5% and 50%"):
            check(doc, count)


def test_rolling_is_for_one_variant() -> None:
    with pytest.raises(PolicyError, match="not supported for endpoints with multiple"):
        check_policy(
            parse_policy(rolling("INSTANCE_COUNT", 1)),
            {"a": 4, "b": 4},
            same_variants=True,
            explicit=True,
            total_wait_s=0,
        )


def test_guardrails_need_the_same_variant_names() -> None:
    endpoint = serving(("AllTraffic", 2))
    renamed = config("green", ("Other", 2))
    with pytest.raises(PolicyError, match="same production variant names"):
        updating(endpoint, renamed, blue_green("ALL_AT_ONCE"), T0)
    # Without a DeploymentConfig the variants may change (no guardrails).
    updated = updating(endpoint, renamed, None, T0)
    assert updated.deployment is not None


@pytest.mark.parametrize(
    ("timeout", "ok"),
    [(600, False), (601, True)],
)
def test_timeout_must_exceed_the_waits(timeout: int, ok: bool) -> None:
    # canary: bake 300 s, final bake 300 s → 600 s of waits
    doc = blue_green("CANARY", 300, CanarySize={"Type": "INSTANCE_COUNT", "Value": 1})
    doc["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] = timeout
    endpoint = serving(("AllTraffic", 2))
    if ok:
        updating(endpoint, config("green", ("AllTraffic", 2)), doc, T0)
    else:
        with pytest.raises(PolicyError, match=r"\(600\) must be larger than the total waiting"):
            updating(endpoint, config("green", ("AllTraffic", 2)), doc, T0)


def test_termination_wait_counts_towards_the_timeout() -> None:
    doc = blue_green("ALL_AT_ONCE", 100)
    doc["BlueGreenUpdatePolicy"] |= {
        "TerminationWaitInSeconds": 600,
        "MaximumExecutionTimeoutInSeconds": 700,
    }
    with pytest.raises(PolicyError, match=r"\(700\) must be larger .* \(700 seconds"):
        updating(serving(("AllTraffic", 1)), config("green", ("AllTraffic", 1)), doc, T0)


@pytest.mark.parametrize(
    ("size", "total", "instances"),
    [
        (Size(SizeType.INSTANCE_COUNT, 3), 10, 3),
        (Size(SizeType.INSTANCE_COUNT, 30), 10, 10),
        (Size(SizeType.CAPACITY_PERCENT, 25), 10, 2),  # rounded down
        (Size(SizeType.CAPACITY_PERCENT, 5), 10, 1),  # at least one
        (Size(SizeType.CAPACITY_PERCENT, 50), 1, 1),
    ],
)
def test_size_in_instances(size: Size, total: int, instances: int) -> None:
    assert size.instances(total) == instances
