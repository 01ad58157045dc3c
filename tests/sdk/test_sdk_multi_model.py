"""The SageMaker Python SDK's multi-model and inference pipeline flows, unchanged.

``MultiDataModel``: deploy a framework model's container in ``MultiModel``
mode over an S3 prefix, ``add_model`` from a local file and from another S3
object, ``list_models``, and ``predict(..., target_model=...)``, as AWS's
multi-model notebooks do. ``PipelineModel``: two ``SKLearnModel`` steps, the
first answering CSV (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``) into the
second, deployed and invoked through the SDK's predictor.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sagemaker.deserializers import JSONDeserializer
from sagemaker.multidatamodel import MultiDataModel
from sagemaker.pipeline import PipelineModel
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer
from sagemaker.sklearn import SKLearnModel

from support.names import unique
from support.sagemaker_sdk import (
    INSTANCE_TYPE,
    ROLE,
    SdkEnv,
    sklearn_model,
    sklearn_model_archive,
    sklearn_source,
    write_source_dir,
)


def test_multi_data_model_add_model_and_predict_with_target_model(sdk: SdkEnv) -> None:
    prefix = f"s3://{sdk.bucket}/{unique('mme')}/"
    mme = MultiDataModel(
        name=unique("sdk-mme"),
        model_data_prefix=prefix,
        model=sklearn_model(sdk, sklearn_source(sdk.work / unique("src"), "mme")),
        sagemaker_session=sdk.session,
    )
    predictor = mme.deploy(
        initial_instance_count=1,
        instance_type=INSTANCE_TYPE,
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )
    try:
        for slope in (1, 2, 3):
            local = sdk.work / unique("archive") / "model.tar.gz"
            local.parent.mkdir(parents=True)
            local.write_bytes(sklearn_model_archive(float(slope)))
            mme.add_model(model_data_source=str(local), model_data_path=f"slope-{slope}.tar.gz")
        elsewhere = sdk.upload(f"{unique('trained')}/model.tar.gz", sklearn_model_archive(10.0))
        mme.add_model(model_data_source=elsewhere, model_data_path="team/slope-10.tar.gz")
        assert sorted(mme.list_models()) == [
            "slope-1.tar.gz",
            "slope-2.tar.gz",
            "slope-3.tar.gz",
            "team/slope-10.tar.gz",
        ]
        for target, slope in (
            ("slope-2.tar.gz", 2.0),
            ("team/slope-10.tar.gz", 10.0),
            ("slope-1.tar.gz", 1.0),
            ("slope-2.tar.gz", 2.0),
        ):
            answer = predictor.predict([[3.0], [0.5]], target_model=target)
            assert answer["prediction"] == pytest.approx([3.0 * slope, 0.5 * slope]), target
            # The entry point the SDK uploaded serves every model, its sibling module too.
            assert (answer["version"], answer["helper"]) == ("mme", "helper-mme")
        described = sdk.sagemaker.describe_model(ModelName=mme.name)["PrimaryContainer"]
        assert (described["Mode"], described["ModelDataUrl"]) == ("MultiModel", prefix)
    finally:
        predictor.delete_endpoint(delete_endpoint_config=True)


STEP = """
    import os
    import pickle

    import numpy as np


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "model.pkl"), "rb") as handle:
            return pickle.load(handle)


    def predict_fn(data, model):
        column = np.asarray(data, dtype=float).reshape(-1, 1)
        return {answer}
"""


def _step(sdk: SdkEnv, folder: Path, slope: float, answer: str, **kwargs: object) -> SKLearnModel:
    source = write_source_dir(folder, {"step.py": STEP.format(answer=answer)})
    url = sdk.upload(f"{unique('models')}/model.tar.gz", sklearn_model_archive(slope))
    return SKLearnModel(
        model_data=url,
        role=ROLE,
        entry_point="step.py",
        source_dir=str(source),
        framework_version="1.2-1",
        sagemaker_session=sdk.session,
        **kwargs,
    )


def test_pipeline_model_deploys_and_predicts_through_its_containers(sdk: SdkEnv) -> None:
    scale = _step(
        sdk,
        sdk.work / unique("scale"),
        2.0,
        "model.predict(column).reshape(-1, 1)",
        env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
    )
    score = _step(
        sdk, sdk.work / unique("score"), 3.0, '{"prediction": model.predict(column).tolist()}'
    )
    pipeline = PipelineModel(
        models=[scale, score], role=ROLE, name=unique("sdk-pipeline"), sagemaker_session=sdk.session
    )
    name = unique("sdk-pipeline")
    pipeline.deploy(initial_instance_count=1, instance_type=INSTANCE_TYPE, endpoint_name=name)
    predictor = Predictor(
        name, sdk.session, serializer=CSVSerializer(), deserializer=JSONDeserializer()
    )
    try:
        # 3 -> 6 -> 18, 0.5 -> 1 -> 3: the second container scored the first one's CSV.
        assert predictor.predict([[3.0], [0.5]])["prediction"] == pytest.approx([18.0, 3.0])
        described = sdk.sagemaker.describe_model(ModelName=pipeline.name)
        assert len(described["Containers"]) == 2
    finally:
        predictor.delete_endpoint(delete_endpoint_config=True)
