"""CreateModel, DescribeModel, DeleteModel, ListModels."""

from __future__ import annotations

from typing import Any

from moorage.control.context import ControlContext
from moorage.control.location_checks import check_model
from moorage.control.model_support import check_runnable
from moorage.control.paging import page_records
from moorage.control.tags import check_tag_count, tag_pairs
from moorage.domain.model import KIND, Model, model_from_record
from moorage.errors import ValidationError
from moorage.store.base import AlreadyExists, Record

SORT_COLUMNS = {"Name": "key", "CreationTime": "created"}


def describe_wire(model: Model) -> dict[str, Any]:
    spec = model.spec
    return {
        "ModelName": model.name,
        "ModelArn": model.arn,
        "CreationTime": model.created,
        "PrimaryContainer": spec.get("PrimaryContainer"),
        "Containers": spec.get("Containers"),
        "InferenceExecutionConfig": spec.get("InferenceExecutionConfig"),
        "ExecutionRoleArn": spec.get("ExecutionRoleArn"),
        "VpcConfig": spec.get("VpcConfig"),
        "EnableNetworkIsolation": spec.get("EnableNetworkIsolation", False),
    }


def _check_containers(params: dict[str, Any]) -> None:
    primary = params.get("PrimaryContainer")
    containers = params.get("Containers")
    if primary and containers:
        raise ValidationError("Specify either PrimaryContainer or Containers, not both.")
    if not primary and not containers:
        raise ValidationError("Either PrimaryContainer or Containers must be specified.")
    if params.get("InferenceExecutionConfig") and not containers:
        raise ValidationError("InferenceExecutionConfig can only be specified with Containers.")
    for container in [primary] if primary else list(containers or []):
        # A model package names no Image; check_runnable says it is not run yet.
        if not container.get("Image") and not container.get("ModelPackageName"):
            raise ValidationError("Each container must specify an Image.")
        if container.get("ModelDataUrl") and container.get("ModelDataSource"):
            raise ValidationError(
                "Specify either ModelDataUrl or ModelDataSource for a container, not both."
            )
    hostnames = [c.get("ContainerHostname") for c in containers or [] if c.get("ContainerHostname")]
    if len(hostnames) != len(set(hostnames)):
        raise ValidationError("ContainerHostname values must be unique within a model.")


class ModelsService:
    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx

    def get(self, name: str) -> Model:
        record = self.ctx.store.get(KIND, name)
        if record is None:
            raise ValidationError(f'Could not find model "{self.ctx.arn(KIND, name)}".')
        return model_from_record(record)

    def find(self, name: str) -> Model | None:
        record = self.ctx.store.get(KIND, name)
        return model_from_record(record) if record else None

    def create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelName"]
        arn = self.ctx.arn(KIND, name)
        _check_containers(params)
        check_model(self.ctx.file_roots, params)
        check_runnable(params)
        tags = tag_pairs(params.get("Tags"))
        check_tag_count(tags)
        spec = {k: v for k, v in params.items() if k != "Tags"}
        now = self.ctx.now()
        record = Record(KIND, name, arn, now, now, {"spec": spec})
        try:
            with self.ctx.store.transaction():
                self.ctx.store.insert(record)
                if tags:
                    self.ctx.store.set_tags(arn, tags)
        except AlreadyExists:
            raise ValidationError(f'Cannot create already existing model "{arn}".') from None
        return {"ModelArn": arn}

    def describe_model(self, params: dict[str, Any]) -> dict[str, Any]:
        return describe_wire(self.get(params["ModelName"]))

    def delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self.get(params["ModelName"])
        with self.ctx.store.transaction():
            self.ctx.store.delete(KIND, model.name)
            self.ctx.store.drop_tags(model.arn)
        return {}

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        result = page_records(self.ctx.store, KIND, params, SORT_COLUMNS, doc_fields=())
        return {
            "Models": [
                {"ModelName": r.name, "ModelArn": r.arn, "CreationTime": r.created}
                for r in result.items
            ],
            "NextToken": result.next_token,
        }
