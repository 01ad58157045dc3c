"""A serverless variant's concurrency changed by UpdateEndpointWeightsAndCapacities.

``DesiredWeightsAndCapacities[].ServerlessUpdateConfig`` changes
``MaxConcurrency`` and ``ProvisionedConcurrency`` without a new endpoint
config; DescribeEndpoint's ``CurrentServerlessConfig`` shows the result,
every refusal changes nothing, a restart keeps it, UpdateEndpoint to a new
config replaces it, and Application Auto Scaling's provisioned-concurrency
dimension pulls this lever (a scheduled action and a step policy). The
Updating state in between (``DesiredServerlessConfig``) is checked step by
step in tests/unit/deploy/test_serverless_capacity.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support import raw
from support.archives import toolbox_archive
from support.components import component_endpoint
from support.endpoints import create_model, wait_in_service
from support.names import unique
from support.server import MoorageServer, running

CONFIG = {"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 2}
PROVISIONED = "sagemaker:variant:DesiredProvisionedConcurrency"


def serverless_endpoint(sm: Any, name: str, url: str, config: dict[str, int]) -> None:
    create_model(sm, name, url)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "ServerlessConfig": config}
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_in_service(sm, name)


def update(sm: Any, name: str, **item: Any) -> None:
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name, DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", **item}]
    )


def described(sm: Any, name: str) -> dict[str, Any]:
    """DescribeEndpoint's answer without the reply's metadata."""
    found = dict(sm.describe_endpoint(EndpointName=name))
    found.pop("ResponseMetadata", None)
    return found


def current(sm: Any, name: str) -> dict[str, Any]:
    """The variant once the endpoint is InService again."""
    wait_in_service(sm, name)
    (variant,) = sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    assert "DesiredServerlessConfig" not in variant
    assert variant["CurrentInstanceCount"] == 0 and "DesiredInstanceCount" not in variant
    return dict(variant)


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return toolbox_archive(tmp_path_factory.mktemp("sls") / "model.tar.gz").as_uri()


@pytest.fixture(scope="module")
def endpoint(server: MoorageServer, model_url: str) -> str:
    name = unique("sls")
    serverless_endpoint(server.sagemaker, name, model_url, CONFIG)
    return name


def test_update_changes_concurrency_and_describe_shows_it(sm: Any, endpoint: str) -> None:
    update(sm, endpoint, ServerlessUpdateConfig={"MaxConcurrency": 8})
    described = sm.describe_endpoint(EndpointName=endpoint)
    # Updating at once (unless the change is already carried out), as for other capacities.
    assert described["EndpointStatus"] in ("Updating", "InService")
    if described["EndpointStatus"] == "Updating":
        (variant,) = described["ProductionVariants"]
        assert variant.get("DesiredServerlessConfig", variant["CurrentServerlessConfig"]) == {
            **CONFIG,
            "MaxConcurrency": 8,
        }
    assert current(sm, endpoint)["CurrentServerlessConfig"] == {**CONFIG, "MaxConcurrency": 8}

    # A later change keeps the earlier one's members.
    update(sm, endpoint, ServerlessUpdateConfig={"ProvisionedConcurrency": 6})
    expected = {"MemorySizeInMB": 2048, "MaxConcurrency": 8, "ProvisionedConcurrency": 6}
    assert current(sm, endpoint)["CurrentServerlessConfig"] == expected

    # Both at once, with a weight; a weight alone keeps the concurrency.
    update(
        sm,
        endpoint,
        DesiredWeight=2.0,
        ServerlessUpdateConfig={"MaxConcurrency": 3, "ProvisionedConcurrency": 3},
    )
    variant = current(sm, endpoint)
    expected = {"MemorySizeInMB": 2048, "MaxConcurrency": 3, "ProvisionedConcurrency": 3}
    assert variant["CurrentServerlessConfig"] == expected
    assert (variant["CurrentWeight"], variant["DesiredWeight"]) == (2.0, 2.0)
    update(sm, endpoint, DesiredWeight=1.0)
    variant = current(sm, endpoint)
    assert variant["CurrentServerlessConfig"] == expected
    assert variant["CurrentWeight"] == 1.0
    # The endpoint config itself is unchanged.
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint)
    assert config["ProductionVariants"][0]["ServerlessConfig"] == CONFIG


@pytest.fixture(scope="module")
def unchecked(server: MoorageServer) -> Any:
    """A client that sends what it is given: the server's own checks answer."""
    return server.client("sagemaker", parameter_validation=False)


@pytest.fixture(scope="module")
def refusing(server: MoorageServer, model_url: str) -> str:
    """A serverless endpoint whose ProvisionedConcurrency was changed to 3."""
    sm = server.sagemaker
    name = unique("sls-refusing")
    serverless_endpoint(sm, name, model_url, CONFIG)
    update(sm, name, ServerlessUpdateConfig={"ProvisionedConcurrency": 3})
    assert current(sm, name)["CurrentServerlessConfig"] == {**CONFIG, "ProvisionedConcurrency": 3}
    return name


REFUSED = [
    pytest.param(
        {"DesiredInstanceCount": 2},
        'Variant "AllTraffic" is serverless: DesiredInstanceCount cannot be specified',
        id="instance-count",
    ),
    pytest.param(
        {"DesiredWeight": 1.0, "DesiredInstanceCount": 1},
        'Variant "AllTraffic" is serverless: DesiredInstanceCount cannot be specified',
        id="instance-count-with-weight",
    ),
    pytest.param(
        {"ServerlessUpdateConfig": {"MaxConcurrency": 4, "ProvisionedConcurrency": 5}},
        'ProvisionedConcurrency (5) of variant "AllTraffic" must be less than or equal to its '
        "MaxConcurrency (4).",
        id="provisioned-above-max",
    ),
    pytest.param(
        # The recorded ProvisionedConcurrency (3) counts too.
        {"ServerlessUpdateConfig": {"MaxConcurrency": 2}},
        'ProvisionedConcurrency (3) of variant "AllTraffic" must be less than or equal to its '
        "MaxConcurrency (2).",
        id="max-below-recorded-provisioned",
    ),
    pytest.param(
        {"ServerlessUpdateConfig": {}},
        'ServerlessUpdateConfig of variant "AllTraffic" must specify MaxConcurrency or '
        "ProvisionedConcurrency.",
        id="empty",
    ),
    pytest.param(
        {},
        'Variant "AllTraffic" must specify DesiredWeight, DesiredInstanceCount or '
        "ServerlessUpdateConfig.",
        id="nothing",
    ),
    pytest.param({"ServerlessUpdateConfig": {"MaxConcurrency": 201}}, "200", id="max-range"),
    pytest.param({"ServerlessUpdateConfig": {"MaxConcurrency": 0}}, "1", id="max-zero"),
    pytest.param(
        {"ServerlessUpdateConfig": {"ProvisionedConcurrency": 0}}, "1", id="provisioned-zero"
    ),
    pytest.param(
        {"ServerlessUpdateConfig": {"ProvisionedConcurrency": "3"}}, "", id="provisioned-type"
    ),
]


@pytest.mark.parametrize(("item", "message"), REFUSED)
def test_refusals_change_nothing(
    sm: Any, unchecked: Any, refusing: str, item: dict[str, Any], message: str
) -> None:
    before = described(sm, refusing)
    with pytest.raises(ClientError) as caught:
        update(unchecked, refusing, **item)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert message in error["Message"]
    after = described(sm, refusing)
    assert after["EndpointStatus"] == "InService"
    assert after == before


def test_memory_size_is_not_a_member_of_the_update(
    server: MoorageServer, sm: Any, refusing: str
) -> None:
    before = described(sm, refusing)
    reply = raw.sagemaker_call(
        server.url,
        "UpdateEndpointWeightsAndCapacities",
        {
            "EndpointName": refusing,
            "DesiredWeightsAndCapacities": [
                {"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"MemorySizeInMB": 4096}}
            ],
        },
    )
    assert reply.status == 400, reply.body
    assert reply.json()["__type"].endswith("ValidationException")
    assert described(sm, refusing) == before


def test_serverless_update_on_an_instance_variant_is_refused(sm: Any) -> None:
    name = unique("sls-instances")
    component_endpoint(sm, name, instance_type="ml.m5.large")
    before = described(sm, name)
    with pytest.raises(ClientError) as caught:
        update(sm, name, ServerlessUpdateConfig={"ProvisionedConcurrency": 1})
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        'Variant "AllTraffic" has no ServerlessConfig: ServerlessUpdateConfig applies only '
        "to a serverless variant."
    )
    assert described(sm, name) == before


def test_restart_keeps_the_change_and_a_new_config_replaces_it(
    tmp_path: Path, model_url: str
) -> None:
    data = tmp_path / "data"
    changed = {"MemorySizeInMB": 2048, "MaxConcurrency": 7, "ProvisionedConcurrency": 4}
    with running(data) as first:
        sm = first.sagemaker
        serverless_endpoint(sm, "kept", model_url, CONFIG)
        update(
            sm, "kept", ServerlessUpdateConfig={"MaxConcurrency": 7, "ProvisionedConcurrency": 4}
        )
        assert current(sm, "kept")["CurrentServerlessConfig"] == changed
        # SIGKILL: nothing may depend on a clean shutdown to be durable.
        first.kill9()
    with running(data) as second:
        sm = second.sagemaker
        assert current(sm, "kept")["CurrentServerlessConfig"] == changed
        # UpdateEndpoint to a new config: that config's ServerlessConfig applies as given,
        # even when the variant's other properties are retained.
        new = {"MemorySizeInMB": 3072, "MaxConcurrency": 5}
        sm.create_endpoint_config(
            EndpointConfigName="kept-2",
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": "kept", "ServerlessConfig": new}
            ],
        )
        sm.update_endpoint(
            EndpointName="kept", EndpointConfigName="kept-2", RetainAllVariantProperties=True
        )
        wait_in_service(sm, "kept", attempts=240)
        assert current(sm, "kept")["CurrentServerlessConfig"] == new


def wait_provisioned(sm: Any, name: str, value: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        (variant,) = described["ProductionVariants"]
        now = variant["CurrentServerlessConfig"].get("ProvisionedConcurrency")
        if described["EndpointStatus"] == "InService" and now == value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: {described['EndpointStatus']}, provisioned {now}")
        time.sleep(0.2)


def settled_activities(aas: Any, ids: dict[str, str], count: int) -> list[dict[str, Any]]:
    """The target's activities, newest first, once ``count`` exist and none is in progress."""
    deadline = time.monotonic() + 60
    while True:
        found: list[dict[str, Any]] = aas.describe_scaling_activities(**ids)["ScalingActivities"]
        if len(found) >= count and all(a["StatusCode"] != "InProgress" for a in found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"activities: {found}")
        time.sleep(0.2)


def test_autoscaling_changes_provisioned_concurrency(
    server: MoorageServer, sm: Any, model_url: str
) -> None:
    name = unique("sls-as")
    serverless_endpoint(
        sm,
        name,
        model_url,
        {"MemorySizeInMB": 1024, "MaxConcurrency": 10, "ProvisionedConcurrency": 1},
    )
    aas = server.client("application-autoscaling")
    cloudwatch = server.client("cloudwatch")
    ids = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{name}/variant/AllTraffic",
        "ScalableDimension": PROVISIONED,
    }
    aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=5)
    alarm = unique("sls-busy")
    try:
        # An at() time already past runs at once: the minimum rises to 4.
        aas.put_scheduled_action(
            **ids,
            ScheduledActionName="warm",
            Schedule="at(2020-01-01T00:00:00)",
            ScalableTargetAction={"MinCapacity": 4},
        )
        wait_provisioned(sm, name, 4)
        raised = settled_activities(aas, ids, 2)
        assert raised[0]["Description"] == "Setting desired provisioned concurrency to 4."
        assert raised[0]["Cause"] == "minimum capacity was set to 4"
        assert raised[0]["StatusCode"] == "Successful"

        arn = aas.put_scaling_policy(
            **ids,
            PolicyName="one-more",
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity",
                "Cooldown": 0,
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        )["PolicyARN"]
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/SageMaker",
            MetricName="ServerlessProvisionedConcurrencyUtilization",
            Dimensions=[
                {"Name": "EndpointName", "Value": name},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0.8,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[arn],
        )
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="try")
        wait_provisioned(sm, name, 5)
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="done")
        stepped = settled_activities(aas, ids, 3)
        assert stepped[0]["Description"] == "Setting desired provisioned concurrency to 5."
        assert stepped[0]["Cause"] == (
            f"monitor alarm {alarm} in state ALARM triggered policy one-more"
        )
        assert stepped[0]["StatusCode"] == "Successful"
        assert [a["StatusCode"] for a in stepped] == ["Successful"] * len(stepped)
        (variant,) = sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
        assert variant["CurrentServerlessConfig"] == {
            "MemorySizeInMB": 1024,
            "MaxConcurrency": 10,
            "ProvisionedConcurrency": 5,
        }
    finally:
        cloudwatch.delete_alarms(AlarmNames=[alarm])
        aas.deregister_scalable_target(**ids)
