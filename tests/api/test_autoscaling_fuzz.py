"""A property-based fuzz of the Application Auto Scaling operations.

Inputs are drawn from botocore's ``application-autoscaling`` input shapes
(:mod:`support.fuzz`) and sent through a boto3 client with client-side
validation off. Half of them name a registered scalable target (the variant
of an endpoint that hosts an inference component, so no change it asks for
starts a model server), so that the handlers, the policy and schedule
parsers and the controller meet them, not only the validator. Every answer
must be AWS-shaped and never a 5xx; the server must stay healthy and log no
traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore import xform_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moorage.api.autoscaling_api import APPLICATION_AUTOSCALING, autoscaling_handlers
from moorage.api.service_models import service_model
from support.components import component_endpoint, create_component, wait_component
from support.endpoints import ROLE
from support.fuzz import check_reply, params_for, served_operations
from support.raw import request
from support.server import MoorageServer, running

ENDPOINT = "fuzzed-scaling"
VARIANT_ID = f"endpoint/{ENDPOINT}/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
OPERATIONS = served_operations(autoscaling_handlers)

_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


@pytest.fixture(scope="module")
def scaling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MoorageServer, str]]:
    """A server of its own, a registered target, and that target's ARN."""
    with running(tmp_path_factory.mktemp("autoscaling-fuzz") / "data") as srv:
        sm = srv.sagemaker
        component_endpoint(sm, ENDPOINT, instance_type="ml.m5.large")
        sm.create_model(
            ModelName="fuzz-model", PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE
        )
        create_component(sm, "fuzz-ic", ENDPOINT, model="fuzz-model", copies=0)
        wait_component(sm, "fuzz-ic")
        arn = srv.client(APPLICATION_AUTOSCALING).register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=VARIANT_ID,
            ScalableDimension=DIMENSION,
            MinCapacity=1,
            MaxCapacity=3,
        )["ScalableTargetARN"]
        yield srv, arn
        assert "Traceback" not in "".join(srv.output)


def _plausible(operation: str, arn: str) -> st.SearchStrategy[dict[str, Any]]:
    """The model's draws, aimed at the registered target (or its ARN)."""
    base = params_for(service_model(APPLICATION_AUTOSCALING).operation_model(operation))
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return base.map(lambda params: {**params, "ResourceARN": arn})
    ids = st.fixed_dictionaries(
        {
            "ServiceNamespace": st.just("sagemaker"),
            "ResourceId": st.sampled_from([VARIANT_ID, "endpoint/none/variant/AllTraffic"]),
            "ScalableDimension": st.just(DIMENSION),
        }
    )
    return st.builds(lambda params, aimed: {**params, **aimed}, base, ids)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_autoscaling_operation(scaling: tuple[MoorageServer, str], operation: str) -> None:
    server, arn = scaling
    client = server.client(APPLICATION_AUTOSCALING, parameter_validation=False)
    answers: list[Any] = []
    client.meta.events.register(
        "response-received.*", lambda response_dict, **_: answers.append(response_dict)
    )
    method = getattr(client, xform_name(operation))
    model = service_model(APPLICATION_AUTOSCALING).operation_model(operation)
    sent = 0

    @settings(max_examples=40, **_SETTINGS)
    @given(st.one_of(params_for(model), _plausible(operation, arn)))
    def run(params: dict[str, Any]) -> None:
        nonlocal sent
        answers.clear()
        try:
            method(**params)
        except Exception:
            if not answers:
                return  # botocore refused to serialize it: nothing was sent
        answer = answers[-1]
        assert answer is not None, f"{operation} {params!r:.300}: no answer from the server"
        sent += 1
        check_reply(answer["status_code"], dict(answer["headers"]), answer["body"], operation)

    run()
    assert sent >= 20, f"{operation}: only {sent} calls were sent"
    # The controller acted on whatever was registered; the server is still well.
    assert request(server.url, "GET", "/healthz").status == 200
    described = server.client(APPLICATION_AUTOSCALING).describe_scaling_activities(
        ServiceNamespace="sagemaker"
    )
    assert isinstance(described["ScalingActivities"], list)
