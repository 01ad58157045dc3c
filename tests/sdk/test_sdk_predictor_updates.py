"""Changing a deployed endpoint through the SageMaker Python SDK's Predictor.

``Predictor.update_endpoint`` (a new endpoint config, then UpdateEndpoint),
``DataCaptureConfig`` on deploy and ``disable_data_capture``, and
``Predictor.update_predictor`` on an inference-component endpoint, which
sends UpdateInferenceComponent a partial specification to merge.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sagemaker.compute_resource_requirements.resource_requirements import ResourceRequirements
from sagemaker.enums import EndpointType
from sagemaker.model_monitor import DataCaptureConfig

from support.names import unique
from support.sagemaker_sdk import (
    INSTANCE_TYPE,
    SdkEnv,
    captured_lines,
    deploy,
    eventually,
    sklearn_model,
    sklearn_source,
)


def test_update_endpoint_moves_to_another_model_and_count(sdk: SdkEnv) -> None:
    source = sdk.work / unique("src")
    predictor = deploy(sklearn_model(sdk, sklearn_source(source, "v1")))
    try:
        assert predictor.predict([[1.0]])["version"] == "v1"
        before = sdk.sagemaker.describe_endpoint(EndpointName=predictor.endpoint_name)
        newer = sklearn_model(sdk, sklearn_source(sdk.work / unique("src"), "v2"))
        newer.create(instance_type=INSTANCE_TYPE)
        predictor.update_endpoint(
            model_name=newer.name, initial_instance_count=2, instance_type=INSTANCE_TYPE
        )
        after = sdk.sagemaker.describe_endpoint(EndpointName=predictor.endpoint_name)
        assert after["EndpointStatus"] == "InService"
        assert after["EndpointConfigName"] != before["EndpointConfigName"]
        assert after["ProductionVariants"][0]["CurrentInstanceCount"] == 2
        answers = {predictor.predict([[1.0]])["version"] for _ in range(4)}
        assert answers == {"v2"}
    finally:
        predictor.delete_endpoint(delete_endpoint_config=True)


def test_data_capture_config_on_deploy(sdk: SdkEnv) -> None:
    prefix = unique("capture")
    capture = DataCaptureConfig(
        enable_capture=True,
        sampling_percentage=100,
        destination_s3_uri=f"s3://{sdk.bucket}/{prefix}",
        # Without a session of its own it builds a default Session() (which
        # needs the default profile's region), even with a destination given.
        sagemaker_session=sdk.session,
    )
    model = sklearn_model(sdk, sklearn_source(sdk.work / unique("src"), "v1"))
    predictor = deploy(model, data_capture_config=capture)
    try:
        config = sdk.sagemaker.describe_endpoint(EndpointName=predictor.endpoint_name)[
            "DataCaptureConfig"
        ]
        assert config["EnableCapture"] is True
        assert config["CurrentSamplingPercentage"] == 100
        assert predictor.predict([[3.0]])["prediction"] == pytest.approx([6.0])

        def pair() -> dict[str, Any] | None:
            for line in captured_lines(sdk, f"{prefix}/{predictor.endpoint_name}/AllTraffic/"):
                record: dict[str, Any] = json.loads(line)["captureData"]
                if record["endpointInput"]["data"] == "3.0":
                    return record
            return None

        record = eventually(pair, timeout=60)
        assert record["endpointInput"]["observedContentType"] == "text/csv"
        output = json.loads(record["endpointOutput"]["data"])
        assert output["version"] == "v1"
        predictor.disable_data_capture()
        config = sdk.sagemaker.describe_endpoint(EndpointName=predictor.endpoint_name)[
            "DataCaptureConfig"
        ]
        assert config["EnableCapture"] is False
    finally:
        predictor.delete_endpoint(delete_endpoint_config=True)


def test_update_predictor_merges_a_partial_specification(sdk: SdkEnv) -> None:
    model = sklearn_model(sdk, sklearn_source(sdk.work / unique("src"), "v1"))
    endpoint = unique("sdk-components")
    predictor = deploy(
        model,
        endpoint_name=endpoint,
        endpoint_type=EndpointType.INFERENCE_COMPONENT_BASED,
        resources=ResourceRequirements(requests={"num_cpus": 0.5, "memory": 256, "copies": 1}),
    )
    component = predictor.component_name
    try:
        assert component
        assert predictor.predict([[1.0]])["version"] == "v1"
        # Only the compute requirements and the copy count: the model and the
        # startup parameters the component has stay as they are.
        predictor.update_predictor(
            resources=ResourceRequirements(requests={"num_cpus": 0.5, "memory": 512, "copies": 2})
        )
        described = sdk.sagemaker.describe_inference_component(InferenceComponentName=component)
        assert described["InferenceComponentStatus"] == "InService"
        specification = described["Specification"]
        assert specification["ModelName"] == model.name
        assert specification["ComputeResourceRequirements"]["MinMemoryRequiredInMb"] == 512
        assert described["RuntimeConfig"]["CurrentCopyCount"] == 2
        assert predictor.predict([[1.0]])["version"] == "v1"
    finally:
        # delete_predictor(wait=True) polls every 20 s whatever the session's
        # poll is; the session's own wait polls every second.
        predictor.delete_predictor()
        sdk.session.wait_for_inference_component_deletion(component)
        sdk.session.delete_endpoint(endpoint)
