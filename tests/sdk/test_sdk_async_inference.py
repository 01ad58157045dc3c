"""Asynchronous inference through the SageMaker Python SDK: ``AsyncPredictor``.

``Model.deploy(async_inference_config=AsyncInferenceConfig(...))`` creates the
endpoint config with its ``AsyncInferenceConfig`` and returns an
``AsyncPredictor``; ``predict_async`` uploads the input to the session's
bucket, calls InvokeEndpointAsync and returns an ``AsyncInferenceResponse``
whose ``get_result`` polls the output and failure locations in S3 (moto's);
``predict`` does both and waits. All of it is the SDK's own code.
"""

from __future__ import annotations

import json

import pytest
from sagemaker.async_inference import AsyncInferenceConfig, WaiterConfig
from sagemaker.deserializers import JSONDeserializer, StringDeserializer
from sagemaker.exceptions import AsyncInferenceModelError
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.predictor_async import AsyncPredictor
from sagemaker.serializers import JSONSerializer

from support.async_inference import async_model_archive
from support.endpoints import IMAGE
from support.names import unique
from support.sagemaker_sdk import INSTANCE_TYPE, ROLE, SdkEnv, eventually

QUICK = WaiterConfig(max_attempts=60, delay=1)


def test_async_predictor_predicts_through_s3(sdk: SdkEnv) -> None:
    archive = async_model_archive(sdk.work / unique("async") / "model.tar.gz").read_bytes()
    model = Model(
        image_uri=IMAGE,
        model_data=sdk.upload(f"{unique('models')}/model.tar.gz", archive),
        role=ROLE,
        predictor_cls=Predictor,
        sagemaker_session=sdk.session,
    )
    prefix = unique("async-out")
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type=INSTANCE_TYPE,
        serializer=JSONSerializer(),
        deserializer=JSONDeserializer(),
        async_inference_config=AsyncInferenceConfig(
            output_path=f"s3://{sdk.bucket}/{prefix}/out",
            failure_path=f"s3://{sdk.bucket}/{prefix}/failed",
            max_concurrent_invocations_per_instance=2,
        ),
    )
    try:
        assert isinstance(predictor, AsyncPredictor)
        described = sdk.sagemaker.describe_endpoint(EndpointName=predictor.endpoint_name)
        assert described["AsyncInferenceConfig"]["ClientConfig"] == {
            "MaxConcurrentInvocationsPerInstance": 2
        }

        # predict_async: the SDK uploads the input, the answer appears in the output path.
        response = predictor.predict_async(data={"op": "echo", "x": 1})
        assert response.output_path.startswith(f"s3://{sdk.bucket}/{prefix}/out/")
        assert response.get_result(QUICK)["echo"] == {"op": "echo", "x": 1}
        assert sdk.keys("async-endpoint-inputs/")

        # An input already in S3, and predict (invoke, then wait).
        source = sdk.upload(f"{prefix}/in.json", json.dumps({"op": "echo", "y": 2}).encode())
        assert predictor.predict(input_path=source, waiter_config=QUICK)["echo"]["y"] == 2

        # A model error lands in the failure path; the SDK raises it. (The model
        # server's error body is text: an AsyncPredictor made by hand reads it.)
        texts = AsyncPredictor(
            Predictor(
                predictor.endpoint_name,
                sagemaker_session=sdk.session,
                serializer=JSONSerializer(),
                deserializer=StringDeserializer(),
            )
        )
        failing = texts.predict_async(data={"op": "fail"})
        assert failing.failure_path is not None
        assert failing.failure_path.startswith(f"s3://{sdk.bucket}/{prefix}/failed/")
        eventually(lambda: sdk.keys(f"{prefix}/failed/") or None, timeout=60)
        with pytest.raises(AsyncInferenceModelError) as failed:
            failing.get_result()
        assert "the model failed on purpose" in str(failed.value)
    finally:
        predictor.delete_endpoint(delete_endpoint_config=True)
