"""Create/Describe/List/Update/Start/Stop/DeleteInferenceExperiment.

Handlers validate (:mod:`moorage.control.experiment_spec`), record the
experiment's new desired state and return; the experiment driver
(:mod:`moorage.deploy.experiment_driver`) carries it out on the endpoint at
the scheduled times. An operation in a status that does not allow it is a
``ConflictException`` (:data:`moorage.domain.inference_experiment.OPERATIONS`).
"""

from __future__ import annotations

from typing import Any

from moorage.control import experiment_spec as spec
from moorage.control.context import ControlContext
from moorage.control.experiment_wire import describe_wire, summary_wire
from moorage.control.paging import page_records
from moorage.control.tags import check_tag_count, tag_pairs
from moorage.deploy.experiment_configs import after_stop, generated_name, shadow_weight
from moorage.deploy.experiment_driver import drop_unused_config
from moorage.deploy.experiment_machine import stopping
from moorage.domain import endpoint as endpoint_domain
from moorage.domain import endpoint_config as config_domain
from moorage.domain import model as model_domain
from moorage.domain.endpoint import Endpoint, EndpointStatus, endpoint_from_record
from moorage.domain.inference_experiment import (
    KIND,
    TERMINAL,
    ChangeKind,
    EndpointChange,
    Experiment,
    ExperimentStatus,
    ModelVariant,
    VariantAction,
    check_operation,
    experiment_from_record,
)
from moorage.errors import ResourceInUse, ResourceNotFound, ValidationError
from moorage.store.base import AlreadyExists, Equals

SORT_COLUMNS = {"Name": "key", "CreationTime": "created", "Status": "status"}


class ExperimentsService:
    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx

    # -- look-ups -------------------------------------------------------------

    def get(self, name: str) -> Experiment:
        record = self.ctx.store.get(KIND, name)
        if record is None:
            raise ResourceNotFound(
                f'Could not find inference experiment "{self.ctx.arn(KIND, name)}".'
            )
        return experiment_from_record(record)

    def _endpoint(self, name: str) -> Endpoint | None:
        record = self.ctx.store.get(endpoint_domain.KIND, name)
        return endpoint_from_record(record) if record is not None else None

    def _model_exists(self, name: str) -> bool:
        return self.ctx.store.get(model_domain.KIND, name) is not None

    def _model_arn(self, name: str) -> str:
        return self.ctx.arn(model_domain.KIND, name)

    def _variants(self, items: list[dict[str, Any]]) -> tuple[ModelVariant, ...]:
        return spec.model_variants(items, self._model_exists, self._model_arn)

    def _check_endpoint(self, name: str) -> Endpoint:
        endpoint = self._endpoint(name)
        if endpoint is None:
            raise ValidationError(
                f'Could not find endpoint "{self.ctx.arn(endpoint_domain.KIND, name)}".'
            )
        if endpoint.status in (EndpointStatus.FAILED, EndpointStatus.DELETING):
            raise ValidationError(
                f'Endpoint "{endpoint.arn}" is {endpoint.status.value} and cannot run an '
                "inference experiment."
            )
        record = self.ctx.store.get(config_domain.KIND, endpoint.config_name)
        if record is not None:
            config = config_domain.endpoint_config_from_record(record)
            if config.component_based:
                raise ValidationError(
                    f'Endpoint "{endpoint.arn}" hosts inference components; shadow tests run on '
                    "endpoints whose variants serve models."
                )
            if any(v.serverless for v in config.variants):
                raise ValidationError(
                    f'Endpoint "{endpoint.arn}" has serverless variants; shadow tests need '
                    "instance-based variants."
                )
        return endpoint

    def _check_endpoint_free(self, endpoint: str, name: str) -> None:
        for record in self.ctx.store.list_records(KIND):
            other = experiment_from_record(record)
            if (
                other.endpoint_name.lower() == endpoint.lower()
                and other.status not in TERMINAL
                and other.name.lower() != name.lower()
            ):
                raise ResourceInUse(
                    f'Endpoint "{self.ctx.arn(endpoint_domain.KIND, endpoint)}" is already used '
                    f'by inference experiment "{other.arn}" ({other.status.value}).'
                )

    # -- handlers ----------------------------------------------------------------

    def create_inference_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        arn = self.ctx.arn(KIND, name)
        if self.ctx.store.get(KIND, name) is not None:
            raise ResourceInUse(f'Inference experiment "{arn}" already exists.')
        mode = spec.shadow_mode(params["ShadowModeConfig"])
        variants = self._variants(params["ModelVariants"])
        spec.check_pairing(variants, mode)
        now = self.ctx.now()
        start, end = spec.schedule(params.get("Schedule"), now)
        storage = spec.data_storage(params.get("DataStorageConfig"), self.ctx.file_roots)
        endpoint = self._check_endpoint(params["EndpointName"])
        self._check_endpoint_free(endpoint.name, name)
        tags = tag_pairs(params.get("Tags"))
        check_tag_count(tags)
        experiment = Experiment(
            name=name,
            arn=arn,
            created=now,
            modified=now,
            status=ExperimentStatus.CREATING,
            endpoint_name=endpoint.name,
            role_arn=params["RoleArn"],
            model_variants=variants,
            source_variant=mode.source,
            shadow_variant=mode.shadow,
            sampling_percentage=mode.sampling_percentage,
            start=start,
            end=end,
            description=params.get("Description"),
            data_storage=storage,
            kms_key=params.get("KmsKey"),
        )
        try:
            with self.ctx.store.transaction():
                self.ctx.store.insert(experiment.to_record())
                if tags:
                    self.ctx.store.set_tags(arn, tags)
        except AlreadyExists:
            raise ResourceInUse(f'Inference experiment "{arn}" already exists.') from None
        self.ctx.notify(endpoint.name)
        return {"InferenceExperimentArn": arn}

    def describe_inference_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        experiment = self.get(params["Name"])
        return describe_wire(experiment, self._endpoint(experiment.endpoint_name))

    def list_inference_experiments(self, params: dict[str, Any]) -> dict[str, Any]:
        status = params.get("StatusEquals")
        if params.get("Type", "ShadowMode") != "ShadowMode":
            # Shadow mode is the only type there is.
            return {"InferenceExperiments": [], "NextToken": None}
        result = page_records(
            self.ctx.store,
            KIND,
            params,
            SORT_COLUMNS,
            equals=(Equals("status", status),) if status is not None else (),
        )
        return {
            "InferenceExperiments": [summary_wire(experiment_from_record(r)) for r in result.items],
            "NextToken": result.next_token,
        }

    def update_inference_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        experiment = self.get(params["Name"])
        check_operation("update", experiment.status, experiment.arn)
        now = self.ctx.now()
        if experiment.status is ExperimentStatus.CREATED:
            updated = self._update_created(experiment, params, now)
        else:
            updated = self._update_running(experiment, params, now)
        self.ctx.store.put(updated.to_record())
        self.ctx.notify(experiment.endpoint_name)
        return {"InferenceExperimentArn": experiment.arn}

    def _update_created(
        self, experiment: Experiment, params: dict[str, Any], now: float
    ) -> Experiment:
        """Before it starts, everything may change (and the endpoint is not touched)."""
        mode = spec.ShadowMode(
            experiment.source_variant, experiment.shadow_variant, experiment.sampling_percentage
        )
        if "ShadowModeConfig" in params:
            mode = spec.shadow_mode(params["ShadowModeConfig"])
        variants = experiment.model_variants
        if "ModelVariants" in params:
            variants = self._variants(params["ModelVariants"])
        spec.check_pairing(variants, mode)
        start, end = experiment.start, experiment.end
        given = params.get("Schedule")
        if given:
            start = float(given.get("StartTime", start))
            end = float(given.get("EndTime", end))
            spec.check_window(start, end, now)
        changes: dict[str, Any] = {
            "model_variants": variants,
            "source_variant": mode.source,
            "shadow_variant": mode.shadow,
            "sampling_percentage": mode.sampling_percentage,
            "start": start,
            "end": end,
            "status": ExperimentStatus.UPDATING,
            "resume": ExperimentStatus.CREATED,
            "modified": now,
        }
        if "Description" in params:
            changes["description"] = params["Description"]
        if "DataStorageConfig" in params:
            changes["data_storage"] = spec.data_storage(
                params["DataStorageConfig"], self.ctx.file_roots
            )
        return experiment.with_changes(**changes)

    def _update_running(
        self, experiment: Experiment, params: dict[str, Any], now: float
    ) -> Experiment:
        """While it runs: the end date, description, capture, sampling and instance counts."""
        changes: dict[str, Any] = {"modified": now}
        given = params.get("Schedule")
        if given:
            start = given.get("StartTime")
            if start is not None and abs(float(start) - experiment.start) > 1e-3:
                raise ValidationError(
                    "The StartTime of a Running inference experiment cannot be changed; "
                    "only its EndTime can."
                )
            if given.get("EndTime") is not None:
                end = float(given["EndTime"])
                spec.check_window(experiment.start, end, now)
                changes["end"] = end
        if "Description" in params:
            changes["description"] = params["Description"]
        if "DataStorageConfig" in params:
            changes["data_storage"] = spec.data_storage(
                params["DataStorageConfig"], self.ctx.file_roots
            )
        desired: dict[str, dict[str, Any]] = {}
        if "ShadowModeConfig" in params:
            mode = spec.shadow_mode(params["ShadowModeConfig"])
            if (mode.source, mode.shadow) != (experiment.source_variant, experiment.shadow_variant):
                raise ValidationError(
                    "The variants of a Running inference experiment cannot change; only the "
                    "shadow variant's SamplingPercentage can."
                )
            if mode.sampling_percentage != experiment.sampling_percentage:
                changes["sampling_percentage"] = mode.sampling_percentage
                desired[mode.shadow] = {
                    "VariantName": mode.shadow,
                    "DesiredWeight": shadow_weight(mode.sampling_percentage),
                }
        if "ModelVariants" in params:
            variants = self._variants(params["ModelVariants"])
            current = {v.variant_name: v for v in experiment.model_variants}
            merged = dict(current)
            for variant in variants:
                old = current.get(variant.variant_name)
                if old is None or (old.model_name, old.instance_type) != (
                    variant.model_name,
                    variant.instance_type,
                ):
                    raise ValidationError(
                        f"Variant {variant.variant_name}: the model and instance type of a "
                        "Running inference experiment cannot change; only InstanceCount can."
                    )
                merged[variant.variant_name] = variant
                if variant.instance_count != old.instance_count:
                    entry = desired.setdefault(
                        variant.variant_name, {"VariantName": variant.variant_name}
                    )
                    entry["DesiredInstanceCount"] = variant.instance_count
            changes["model_variants"] = tuple(
                merged[v.variant_name] for v in experiment.model_variants
            )
        if desired:
            changes["status"] = ExperimentStatus.UPDATING
            changes["resume"] = ExperimentStatus.RUNNING
            changes["change"] = EndpointChange(ChangeKind.CAPACITY, desired=tuple(desired.values()))
        return experiment.with_changes(**changes)

    def start_inference_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        experiment = self.get(params["Name"])
        check_operation("start", experiment.status, experiment.arn)
        now = self.ctx.now()
        end = min(experiment.end, now + spec.MAX_DURATION_S)
        started = experiment.with_changes(
            status=ExperimentStatus.STARTING,
            start=now,
            end=end,
            change=EndpointChange(ChangeKind.START),
            modified=now,
        )
        self.ctx.store.put(started.to_record())
        self.ctx.notify(experiment.endpoint_name)
        return {"InferenceExperimentArn": experiment.arn}

    def stop_inference_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        experiment = self.get(params["Name"])
        check_operation("stop", experiment.status, experiment.arn)
        desired = self._variants(params.get("DesiredModelVariants") or [])
        resolved = spec.stop_actions(experiment, params["ModelVariantActions"], desired)
        now = self.ctx.now()
        experiment_spec = None
        if experiment.experiment_config is not None:
            record = self.ctx.store.get(config_domain.KIND, experiment.experiment_config)
            experiment_spec = record.doc.get("spec") if record is not None else None
        promoted = resolved.actions[experiment.shadow_variant] is VariantAction.PROMOTE
        label = "promoted" if promoted else "stopped"
        target = after_stop(
            experiment,
            resolved.actions,
            resolved.desired,
            experiment_spec,
            generated_name(experiment.name, label, now),
        )
        state = ExperimentStatus(params.get("DesiredState", ExperimentStatus.COMPLETED.value))
        stopped = stopping(
            experiment,
            state,
            resolved.actions,
            EndpointChange(ChangeKind.STOP, target.config_name, target.spec),
            params.get("Reason"),
            now,
        )
        self.ctx.store.put(stopped.to_record())
        self.ctx.notify(experiment.endpoint_name)
        return {"InferenceExperimentArn": experiment.arn}

    def delete_inference_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        experiment = self.get(params["Name"])
        check_operation("delete", experiment.status, experiment.arn)
        with self.ctx.store.transaction():
            self.ctx.store.delete(KIND, experiment.name)
            self.ctx.store.drop_tags(experiment.arn)
        drop_unused_config(self.ctx.store, self.ctx.partition, experiment)
        return {"InferenceExperimentArn": experiment.arn}
