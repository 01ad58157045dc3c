"""Application Auto Scaling through boto3's ``application-autoscaling`` client.

Every operation and its errors, on endpoints and inference components that
run no model server (an endpoint of inference components with a component of
no copies): registration checks, policies and the alarms they create in
CloudWatch, scheduled actions, paging, tags, activities.
tests/e2e/test_autoscaling.py scales real model servers.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.components import component_endpoint, create_component, wait_component
from support.endpoints import ROLE
from support.names import unique
from support.server import MoorageServer

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
COPIES = "sagemaker:inference-component:DesiredCopyCount"
TRACKING = {
    "TargetValue": 70.0,
    "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    },
}


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def aas(server: MoorageServer) -> Any:
    return server.client("application-autoscaling")


@pytest.fixture(scope="module")
def cloudwatch(server: MoorageServer) -> Any:
    return server.client("cloudwatch")


@pytest.fixture(scope="module")
def endpoint(server: MoorageServer) -> str:
    """An endpoint of inference components (InService, no model server)."""
    name = unique("as-ep")
    component_endpoint(server.sagemaker, name, instance_type="ml.m5.large")
    return name


@pytest.fixture(scope="module")
def component(server: MoorageServer, endpoint: str) -> str:
    sm = server.sagemaker
    model = unique("as-model")
    sm.create_model(ModelName=model, PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE)
    name = unique("as-ic")
    create_component(sm, name, endpoint, model=model, copies=0)
    wait_component(sm, name)
    return name


def target_ids(endpoint: str, dimension: str = DIMENSION) -> dict[str, str]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/AllTraffic",
        "ScalableDimension": dimension,
    }


def component_ids(component: str) -> dict[str, str]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"inference-component/{component}",
        "ScalableDimension": COPIES,
    }


def _filter(ids: dict[str, str]) -> dict[str, str]:
    return {"ResourceId": ids["ResourceId"], "ScalableDimension": ids["ScalableDimension"]}


def alarm_names(cloudwatch: Any, prefix: str) -> list[str]:
    found = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return sorted(a["AlarmName"] for a in found)


def test_register_describe_update_deregister(aas: Any, endpoint: str, component: str) -> None:
    ids = component_ids(component)
    arn = aas.register_scalable_target(
        **ids, MinCapacity=0, MaxCapacity=3, Tags={"team": "search"}
    )["ScalableTargetARN"]
    assert re.fullmatch(
        r"arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/[a-z0-9]{36}",
        arn,
    )
    [described] = aas.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[ids["ResourceId"]]
    )["ScalableTargets"]
    assert described["ScalableTargetARN"] == arn
    assert (described["MinCapacity"], described["MaxCapacity"]) == (0, 3)
    assert described["RoleARN"].endswith(
        "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )
    assert described["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }
    created = described["CreationTime"]
    # Registering again updates what it names, and keeps the ARN, tags and creation time.
    again = aas.register_scalable_target(
        **ids, MaxCapacity=5, SuspendedState={"DynamicScalingInSuspended": True}
    )
    assert again["ScalableTargetARN"] == arn
    [updated] = aas.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[ids["ResourceId"]], ScalableDimension=COPIES
    )["ScalableTargets"]
    assert (updated["MinCapacity"], updated["MaxCapacity"]) == (0, 5)
    assert updated["SuspendedState"]["DynamicScalingInSuspended"] is True
    assert updated["CreationTime"] == created
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "search"}
    aas.deregister_scalable_target(**ids)
    assert (
        aas.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[ids["ResourceId"]]
        )["ScalableTargets"]
        == []
    )
    with pytest.raises(ClientError) as caught:
        aas.deregister_scalable_target(**ids)
    assert error_of(caught) == (
        "ObjectNotFoundException",
        f"No scalable target found for service namespace: sagemaker, resource ID: "
        f"{ids['ResourceId']}, scalable dimension: {COPIES}",
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"ServiceNamespace": "ecs"}, "Unsupported service namespace ecs"),
        ({"ScalableDimension": "ecs:service:DesiredCount"}, "Unsupported scalable dimension"),
        ({"ResourceId": "endpoint/x"}, "endpoint/{EndpointName}/variant/{VariantName}"),
        ({"ResourceId": "endpoint/as-none/variant/AllTraffic"}, 'Could not find endpoint "arn:'),
        ({"MinCapacity": 3, "MaxCapacity": 2}, "cannot be greater than maximum capacity"),
        ({"MinCapacity": -1}, "must not be negative"),
        ({"MinCapacity": None}, "MinCapacity and MaxCapacity are required"),
    ],
)
def test_registration_errors(aas: Any, endpoint: str, change: dict[str, Any], words: str) -> None:
    params: dict[str, Any] = {**target_ids(endpoint), "MinCapacity": 1, "MaxCapacity": 2}
    params.update(change)
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(ClientError) as caught:
        aas.register_scalable_target(**params)
    code, message = error_of(caught)
    assert code == "ValidationException"
    assert words in message


def test_registration_checks_variant_and_component_exist(aas: Any, endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{endpoint}/variant/Other",
            ScalableDimension=DIMENSION,
            MinCapacity=1,
            MaxCapacity=2,
        )
    assert error_of(caught)[1].startswith('The variant name "Other" is not present')
    with pytest.raises(ClientError) as caught:
        aas.register_scalable_target(**component_ids("as-none"), MinCapacity=0, MaxCapacity=1)
    assert 'Could not find inference component "arn:' in error_of(caught)[1]
    with pytest.raises(ClientError) as caught:
        aas.register_scalable_target(
            **target_ids(endpoint, "sagemaker:variant:DesiredProvisionedConcurrency"),
            MinCapacity=1,
            MaxCapacity=2,
        )
    assert "has no provisioned concurrency" in error_of(caught)[1]


def test_target_tracking_policy_creates_updates_and_deletes_its_alarms(
    aas: Any, cloudwatch: Any, endpoint: str
) -> None:
    ids = target_ids(endpoint)
    aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=4)
    reply = aas.put_scaling_policy(
        **ids,
        PolicyName="ipi",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={**TRACKING, "ScaleInCooldown": 120},
    )
    arn = reply["PolicyARN"]
    assert re.fullmatch(
        rf"arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:[0-9a-f-]{{36}}:resource/"
        rf"sagemaker/endpoint/{endpoint}/variant/AllTraffic:policyName/ipi",
        arn,
    )
    prefix = f"TargetTracking-endpoint/{endpoint}/variant/AllTraffic-"
    names = [a["AlarmName"] for a in reply["Alarms"]]
    assert names[0].startswith(prefix + "AlarmHigh-") and names[1].startswith(prefix + "AlarmLow-")
    assert alarm_names(cloudwatch, prefix) == sorted(names)
    high = cloudwatch.describe_alarms(AlarmNames=[names[0]])["MetricAlarms"][0]
    assert (high["MetricName"], high["Statistic"], high["Threshold"]) == (
        "InvocationsPerInstance",
        "Sum",
        70.0,
    )
    assert high["AlarmActions"] == [arn]
    assert reply["Alarms"][0]["AlarmARN"] == high["AlarmArn"]
    [policy] = aas.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=ids["ResourceId"], ScalableDimension=DIMENSION
    )["ScalingPolicies"]
    assert policy["PolicyARN"] == arn and policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"]["ScaleInCooldown"] == 120
    assert [a["AlarmName"] for a in policy["Alarms"]] == names
    # An update keeps the ARN and the alarms' names; the threshold follows the target.
    updated = aas.put_scaling_policy(
        **ids,
        PolicyName="ipi",
        TargetTrackingScalingPolicyConfiguration={**TRACKING, "TargetValue": 50.0},
    )
    assert updated["PolicyARN"] == arn
    assert [a["AlarmName"] for a in updated["Alarms"]] == names
    low = cloudwatch.describe_alarms(AlarmNames=[names[1]])["MetricAlarms"][0]
    assert low["Threshold"] == 45.0 and low["EvaluationPeriods"] == 15
    aas.delete_scaling_policy(**ids, PolicyName="ipi")
    assert alarm_names(cloudwatch, prefix) == []
    with pytest.raises(ClientError) as caught:
        aas.delete_scaling_policy(**ids, PolicyName="ipi")
    assert error_of(caught) == (
        "ObjectNotFoundException",
        f"No scaling policy found for service namespace: sagemaker, resource ID: "
        f"{ids['ResourceId']}, scalable dimension: {DIMENSION}, policy name: ipi",
    )
    aas.deregister_scalable_target(**ids)


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        (
            {"PolicyType": "StepScaling"},
            "ValidationException",
            "StepScalingPolicyConfiguration is required",
        ),
        ({}, "ValidationException", "PolicyType is required"),
        (
            {"PolicyType": "PredictiveScaling"},
            "ValidationException",
            "PredictiveScaling is supported for Amazon ECS only",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": TRACKING,
                "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity"},
            },
            "ValidationException",
            "cannot be specified for a TargetTrackingScaling policy",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 3.0,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                },
            },
            "ValidationException",
            "not supported for scalable dimension",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 3.0,
                    "CustomizedMetricSpecification": {
                        "Metrics": [{"Id": "a", "Expression": "1 +", "ReturnData": True}]
                    },
                },
            },
            "ValidationException",
            "cannot be watched by a CloudWatch alarm",
        ),
        (
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 3.0,
                    "CustomizedMetricSpecification": {
                        "MetricName": "Queue",
                        "Namespace": "App",
                        "Statistic": "Average",
                        "Unit": "Parsecs",
                    },
                },
            },
            "ValidationException",
            "Value 'Parsecs' at 'unit' failed to satisfy constraint",
        ),
    ],
)
def test_policy_errors(
    aas: Any, endpoint: str, params: dict[str, Any], code: str, words: str
) -> None:
    ids = target_ids(endpoint)
    aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=2)
    try:
        with pytest.raises(ClientError) as caught:
            aas.put_scaling_policy(**ids, PolicyName=unique("bad"), **params)
        got_code, message = error_of(caught)
        assert got_code == code
        assert words in message
    finally:
        aas.deregister_scalable_target(**ids)


def test_a_policy_needs_a_registered_target(aas: Any, endpoint: str) -> None:
    ids = target_ids(endpoint, "sagemaker:variant:DesiredProvisionedConcurrency")
    with pytest.raises(ClientError) as caught:
        aas.put_scaling_policy(
            **ids,
            PolicyName="p",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=TRACKING,
        )
    assert error_of(caught) == (
        "ObjectNotFoundException",
        f"No scalable target registered for service namespace: sagemaker, resource ID: "
        f"endpoint/{endpoint}/variant/AllTraffic, scalable dimension: "
        "sagemaker:variant:DesiredProvisionedConcurrency",
    )
    assert isinstance(caught.value, aas.exceptions.ObjectNotFoundException)


def test_step_policy_lists_the_alarms_that_name_it(
    aas: Any, cloudwatch: Any, component: str
) -> None:
    ids = component_ids(component)
    aas.register_scalable_target(**ids, MinCapacity=0, MaxCapacity=2)
    arn = aas.put_scaling_policy(
        **ids,
        PolicyName="from-zero",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Maximum",
            "Cooldown": 60,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )["PolicyARN"]
    alarm = unique("as-noc")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="NoCapacityInvocationFailures",
        Dimensions=[{"Name": "InferenceComponentName", "Value": component}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[arn],
    )
    try:
        [policy] = aas.describe_scaling_policies(
            ServiceNamespace="sagemaker", PolicyNames=["from-zero"], ResourceId=ids["ResourceId"]
        )["ScalingPolicies"]
        config = policy["StepScalingPolicyConfiguration"]
        assert config["StepAdjustments"] == [
            {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}
        ]
        assert [a["AlarmName"] for a in policy["Alarms"]] == [alarm]
    finally:
        cloudwatch.delete_alarms(AlarmNames=[alarm])
        aas.deregister_scalable_target(**ids)
    assert (
        aas.describe_scaling_policies(ServiceNamespace="sagemaker", PolicyNames=["from-zero"])[
            "ScalingPolicies"
        ]
        == []
    )


def test_scheduled_actions(aas: Any, component: str) -> None:
    ids = component_ids(component)
    aas.register_scalable_target(**ids, MinCapacity=0, MaxCapacity=2)
    try:
        aas.put_scheduled_action(
            **ids,
            ScheduledActionName="weekday-mornings",
            Schedule="cron(0 8 ? * MON-FRI *)",
            Timezone="Europe/Paris",
            ScalableTargetAction={"MinCapacity": 1, "MaxCapacity": 2},
        )
        [first] = aas.describe_scheduled_actions(ServiceNamespace="sagemaker", **_filter(ids))[
            "ScheduledActions"
        ]
        arn = first["ScheduledActionARN"]
        assert re.fullmatch(
            r"arn:aws:autoscaling:us-east-1:123456789012:scheduledAction:[0-9a-f-]{36}:resource/"
            rf"sagemaker/inference-component/{component}:scheduledActionName/weekday-mornings",
            arn,
        )
        aas.put_scheduled_action(
            **ids, ScheduledActionName="weekday-mornings", ScalableTargetAction={"MaxCapacity": 2}
        )
        [action] = aas.describe_scheduled_actions(
            ServiceNamespace="sagemaker", ScheduledActionNames=["weekday-mornings"]
        )["ScheduledActions"]
        assert action["ScheduledActionARN"] == arn
        assert action["Schedule"] == "cron(0 8 ? * MON-FRI *)"
        assert action["Timezone"] == "Europe/Paris"
        assert action["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 2}
        for schedule, timezone, words in [
            ("cron(0 8 * *)", None, "six fields"),
            ("every day", None, "Unsupported schedule expression"),
            ("cron(0 8 * * ? *)", "Nowhere/City", "IANA time zone"),
        ]:
            extra = {"Timezone": timezone} if timezone else {}
            with pytest.raises(ClientError) as caught:
                aas.put_scheduled_action(
                    **ids,
                    ScheduledActionName="bad",
                    Schedule=schedule,
                    ScalableTargetAction={"MinCapacity": 1},
                    **extra,
                )
            assert error_of(caught)[0] == "ValidationException"
            assert words in error_of(caught)[1]
        aas.delete_scheduled_action(**ids, ScheduledActionName="weekday-mornings")
        with pytest.raises(ClientError) as caught:
            aas.delete_scheduled_action(**ids, ScheduledActionName="weekday-mornings")
        assert error_of(caught)[0] == "ObjectNotFoundException"
        assert "scheduled action name: weekday-mornings" in error_of(caught)[1]
    finally:
        aas.deregister_scalable_target(**ids)


def test_deregistering_deletes_policies_alarms_and_scheduled_actions(
    aas: Any, cloudwatch: Any, endpoint: str
) -> None:
    ids = target_ids(endpoint)
    aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=4)
    reply = aas.put_scaling_policy(
        **ids,
        PolicyName="gone-with-target",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=TRACKING,
    )
    aas.put_scheduled_action(
        **ids,
        ScheduledActionName="later",
        Schedule="rate(1 day)",
        ScalableTargetAction={"MinCapacity": 1},
    )
    aas.deregister_scalable_target(**ids)
    assert (
        cloudwatch.describe_alarms(AlarmNames=[a["AlarmName"] for a in reply["Alarms"]])[
            "MetricAlarms"
        ]
        == []
    )
    resource = ids["ResourceId"]
    assert (
        aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)[
            "ScalingPolicies"
        ]
        == []
    )
    assert (
        aas.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=resource)[
            "ScheduledActions"
        ]
        == []
    )


def test_paging_and_its_errors(aas: Any, server: MoorageServer) -> None:
    sm = server.sagemaker
    names = [unique("as-page") for _ in range(3)]
    for name in names:
        component_endpoint(sm, name, instance_type="ml.m5.large")
        aas.register_scalable_target(**target_ids(name), MinCapacity=1, MaxCapacity=2)
    try:
        ids = [f"endpoint/{n}/variant/AllTraffic" for n in names]
        seen: list[str] = []
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            reply = aas.describe_scalable_targets(
                ServiceNamespace="sagemaker", ResourceIds=ids, MaxResults=1, **extra
            )
            seen.extend(t["ResourceId"] for t in reply["ScalableTargets"])
            token = reply.get("NextToken")
            if not token:
                break
        assert seen == ids
        with pytest.raises(ClientError) as caught:
            aas.describe_scalable_targets(ServiceNamespace="sagemaker", NextToken="bm9wZQ==")
        assert error_of(caught)[0] == "InvalidNextTokenException"
        with pytest.raises(ClientError) as caught:
            aas.describe_scalable_targets(ServiceNamespace="sagemaker", MaxResults=51)
        assert error_of(caught) == (
            "ValidationException",
            "MaxResults must be between 1 and 50, not 51.",
        )
        with pytest.raises(ClientError) as caught:
            aas.describe_scaling_policies(ServiceNamespace="sagemaker", MaxResults=11)
        assert "between 1 and 10" in error_of(caught)[1]
        with pytest.raises(ClientError) as caught:
            aas.describe_scaling_policies(ServiceNamespace="sagemaker", ScalableDimension=DIMENSION)
        assert "you must also specify a resource ID" in error_of(caught)[1]
        with pytest.raises(ClientError) as caught:
            aas.describe_scaling_activities(ServiceNamespace="dynamodb")
        assert "Unsupported service namespace dynamodb" in error_of(caught)[1]
    finally:
        for name in names:
            aas.deregister_scalable_target(**target_ids(name))


def test_tags(aas: Any, component: str) -> None:
    ids = component_ids(component)
    arn = aas.register_scalable_target(**ids, MinCapacity=0, MaxCapacity=1)["ScalableTargetARN"]
    try:
        aas.tag_resource(ResourceARN=arn, Tags={"a": "1", "b": "2"})
        aas.tag_resource(ResourceARN=arn, Tags={"a": "3"})
        aas.untag_resource(ResourceARN=arn, TagKeys=["b"])
        assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"a": "3"}
        with pytest.raises(ClientError) as caught:
            aas.tag_resource(ResourceARN=arn, Tags={f"k{i}": "v" for i in range(50)})
        assert error_of(caught)[0] == "TooManyTagsException"
        with pytest.raises(ClientError) as caught:
            aas.tag_resource(ResourceARN=arn, Tags={"aws:owner": "x"})
        assert error_of(caught)[0] == "ValidationException"
        missing = arn[:-4] + "zzzz"
        with pytest.raises(ClientError) as caught:
            aas.list_tags_for_resource(ResourceARN=missing)
        assert error_of(caught) == (
            "ResourceNotFoundException",
            f"No scalable target found for ARN {missing}.",
        )
        with pytest.raises(ClientError) as caught:
            aas.untag_resource(
                ResourceARN="arn:aws:sagemaker:us-east-1:1:endpoint/x", TagKeys=["a"]
            )
        assert error_of(caught)[0] == "ValidationException"  # the model's ARN pattern
    finally:
        aas.deregister_scalable_target(**ids)


def test_activities_record_a_refused_change(
    aas: Any, server: MoorageServer, endpoint: str, component: str
) -> None:
    """A new minimum above the variant's instance count asks UpdateEndpointWeightsAndCapacities,
    which refuses to change an endpoint hosting inference components: a Failed activity."""
    ids = target_ids(endpoint)
    aas.register_scalable_target(**ids, MinCapacity=2, MaxCapacity=3)
    try:
        deadline = time.monotonic() + 30
        activities: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not activities:
            activities = aas.describe_scaling_activities(
                ServiceNamespace="sagemaker",
                ResourceId=ids["ResourceId"],
                ScalableDimension=DIMENSION,
            )["ScalingActivities"]
            time.sleep(0.2)
        [activity] = activities
        assert activity["Description"] == "Setting desired instance count to 2."
        assert activity["Cause"] == "minimum capacity was set to 2"
        assert activity["StatusCode"] == "Failed"
        assert activity["StatusMessage"].startswith(
            "Failed to set desired instance count to 2. Reason: Cannot update endpoint"
        )
        assert "hosts inference components" in activity["StatusMessage"]
        described = server.sagemaker.describe_endpoint(EndpointName=endpoint)
        assert described["ProductionVariants"][0]["DesiredInstanceCount"] == 1
    finally:
        aas.deregister_scalable_target(**ids)


def test_an_operation_moorage_does_not_serve(aas: Any, component: str) -> None:
    with pytest.raises(ClientError) as caught:
        aas.get_predictive_scaling_forecast(
            **component_ids(component),
            PolicyName="p",
            StartTime=0,
            EndTime=60,
        )
    code, message = error_of(caught)
    assert code == "NotImplemented"
    assert "GetPredictiveScalingForecast" in message


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = MoorageServer(data).start()
    try:
        component_endpoint(first.sagemaker, "kept", instance_type="ml.m5.large")
        aas = first.client("application-autoscaling")
        ids = target_ids("kept")
        arn = aas.register_scalable_target(**ids, MinCapacity=1, MaxCapacity=3, Tags={"k": "v"})[
            "ScalableTargetARN"
        ]
        policy = aas.put_scaling_policy(
            **ids,
            PolicyName="ipi",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=TRACKING,
        )
        aas.put_scheduled_action(
            **ids,
            ScheduledActionName="nightly",
            Schedule="cron(0 2 * * ? *)",
            ScalableTargetAction={"MaxCapacity": 2},
        )
        before = {
            "targets": aas.describe_scalable_targets(ServiceNamespace="sagemaker")[
                "ScalableTargets"
            ],
            "policies": aas.describe_scaling_policies(ServiceNamespace="sagemaker")[
                "ScalingPolicies"
            ],
            "actions": aas.describe_scheduled_actions(ServiceNamespace="sagemaker")[
                "ScheduledActions"
            ],
        }
    finally:
        first.stop()
    second = MoorageServer(data).start()
    try:
        aas = second.client("application-autoscaling")
        after = {
            "targets": aas.describe_scalable_targets(ServiceNamespace="sagemaker")[
                "ScalableTargets"
            ],
            "policies": aas.describe_scaling_policies(ServiceNamespace="sagemaker")[
                "ScalingPolicies"
            ],
            "actions": aas.describe_scheduled_actions(ServiceNamespace="sagemaker")[
                "ScheduledActions"
            ],
        }
        assert after == before
        assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"k": "v"}
        names = [a["AlarmName"] for a in policy["Alarms"]]
        alarms = second.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        assert sorted(a["AlarmName"] for a in alarms) == sorted(names)
    finally:
        second.stop()
