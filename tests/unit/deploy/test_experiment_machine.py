"""The inference-experiment status machine and the ConflictException rules, without I/O."""

from __future__ import annotations

import pytest

from moorage.deploy.experiment_machine import (
    EndpointFacts,
    advance,
    next_deadline,
    settle,
    variant_statuses,
)
from moorage.domain.inference_experiment import (
    OPERATIONS,
    ChangeKind,
    EndpointChange,
    Experiment,
    ExperimentStatus,
    ModelVariant,
    VariantAction,
    VariantStatus,
    check_operation,
    experiment_from_record,
)
from moorage.errors import ConflictError

T0 = 1_800_000_000.0
ARN = "arn:aws:sagemaker:us-east-1:123456789012:inference-experiment/nightly"
S = ExperimentStatus


def experiment(status: ExperimentStatus = S.CREATED, **changes: object) -> Experiment:
    base = Experiment(
        name="nightly",
        arn=ARN,
        created=T0,
        modified=T0,
        status=status,
        endpoint_name="shop",
        role_arn="arn:aws:iam::123456789012:role/R",
        model_variants=(
            ModelVariant("m1", "Prod", "ml.m5.large", 2),
            ModelVariant("m2", "Shadow", "ml.m5.large", 1),
        ),
        source_variant="Prod",
        shadow_variant="Shadow",
        sampling_percentage=30,
        start=T0 + 100,
        end=T0 + 200,
        prior_config="c1",
        prior_spec={"EndpointConfigName": "c1", "ProductionVariants": []},
        experiment_config="nightly-shadow-1",
    )
    return base.with_changes(**changes)


SERVING = EndpointFacts(True, "InService", "c1")
ON_EXPERIMENT = EndpointFacts(True, "InService", "nightly-shadow-1")
UPDATING = EndpointFacts(True, "Updating", "c1", deploying=True)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("status", list(ExperimentStatus))
def test_every_operation_in_every_status(operation: str, status: ExperimentStatus) -> None:
    if status in OPERATIONS[operation]:
        check_operation(operation, status, ARN)
        return
    with pytest.raises(ConflictError) as error:
        check_operation(operation, status, ARN)
    assert error.value.code == "ConflictException"
    assert f'inference experiment "{ARN}"' in error.value.message
    assert status.value in error.value.message
    assert all(s.value in error.value.message for s in OPERATIONS[operation])


def test_the_allowed_statuses_are_those_aws_documents() -> None:
    assert OPERATIONS["update"] == {S.CREATED, S.RUNNING}
    assert OPERATIONS["start"] == {S.CREATED}
    assert OPERATIONS["stop"] == {S.RUNNING}
    assert OPERATIONS["delete"] == {S.CREATED, S.COMPLETED, S.CANCELLED}


def test_creating_becomes_created_and_waits_for_its_start() -> None:
    created = advance(experiment(S.CREATING), SERVING, T0)
    assert created.status is S.CREATED
    assert advance(created, SERVING, T0 + 99) == created
    assert next_deadline(created) == T0 + 100
    starting = advance(created, SERVING, T0 + 100)
    assert starting.status is S.STARTING
    assert starting.change == EndpointChange(ChangeKind.START)


def test_starting_waits_for_the_endpoint_then_runs() -> None:
    issued = experiment(
        S.STARTING, change=EndpointChange(ChangeKind.START, "nightly-shadow-1", issued=True)
    )
    assert advance(issued, UPDATING, T0) == issued
    running = advance(issued, ON_EXPERIMENT, T0 + 120)
    assert running.status is S.RUNNING
    assert running.change is None
    assert variant_statuses(running) == {"Prod": VariantStatus.IN_SERVICE, "Shadow": "InService"}


def test_a_start_rolled_back_cancels_with_the_endpoint_reason() -> None:
    issued = experiment(
        S.STARTING, change=EndpointChange(ChangeKind.START, "nightly-shadow-1", issued=True)
    )
    rolled_back = EndpointFacts(True, "InService", "c1", failure_reason="model_fn raised")
    cancelled = advance(issued, rolled_back, T0 + 120)
    assert cancelled.status is S.CANCELLED
    assert "model_fn raised" in (cancelled.status_reason or "")
    assert cancelled.completion == T0 + 120


def test_a_start_that_never_gets_the_endpoint_expires() -> None:
    waiting = experiment(S.STARTING, change=EndpointChange(ChangeKind.START))
    assert advance(waiting, UPDATING, T0 + 150) == waiting
    expired = advance(waiting, UPDATING, T0 + 200)
    assert expired.status is S.CANCELLED
    assert "before its end time" in (expired.status_reason or "")


def test_running_ends_on_schedule_by_going_back_to_the_prior_config() -> None:
    running = experiment(S.RUNNING)
    assert next_deadline(running) == T0 + 200
    assert advance(running, ON_EXPERIMENT, T0 + 199) == running
    stopping = advance(running, ON_EXPERIMENT, T0 + 200)
    assert stopping.status is S.STOPPING
    assert stopping.stop_state is S.COMPLETED
    assert stopping.change == EndpointChange(
        ChangeKind.STOP, "c1", {"EndpointConfigName": "c1", "ProductionVariants": []}
    )
    assert stopping.actions == {"Prod": VariantAction.RETAIN, "Shadow": VariantAction.REMOVE}
    assert variant_statuses(stopping) == {"Prod": "InService", "Shadow": "Deleting"}
    assert stopping.change is not None
    issued = stopping.with_changes(change=stopping.change.marked_issued())
    done = advance(issued, SERVING, T0 + 230)
    assert done.status is S.COMPLETED
    assert done.completion == T0 + 230
    assert variant_statuses(done) == {"Prod": "InService", "Shadow": "Deleted"}
    assert next_deadline(done) is None


def test_a_stop_that_rolled_back_finishes_with_the_reason_and_nothing_removed() -> None:
    stopping = experiment(
        S.STOPPING,
        stop_state=S.CANCELLED,
        actions={"Prod": VariantAction.REMOVE, "Shadow": VariantAction.PROMOTE},
        change=EndpointChange(ChangeKind.STOP, "nightly-promoted-1", issued=True),
    )
    assert variant_statuses(stopping) == {"Prod": "Deleting", "Shadow": "Updating"}
    rolled_back = EndpointFacts(True, "InService", "nightly-shadow-1", "fleet failed")
    done = advance(stopping, rolled_back, T0 + 150)
    assert done.status is S.CANCELLED
    assert done.status_reason == "fleet failed"
    assert variant_statuses(done) == {"Prod": "InService", "Shadow": "InService"}


def test_an_endpoint_that_disappears_cancels_the_experiment() -> None:
    for status in (S.CREATED, S.STARTING, S.RUNNING, S.UPDATING):
        gone = advance(experiment(status, resume=S.RUNNING), EndpointFacts(False), T0)
        assert gone.status is S.CANCELLED, status
        assert gone.status_reason == 'Endpoint "shop" no longer exists.'
    failed = advance(experiment(S.RUNNING), EndpointFacts(True, "Failed", "c1"), T0)
    assert failed.status_reason == 'Endpoint "shop" is Failed.'
    stopping = experiment(
        S.STOPPING, stop_state=S.COMPLETED, change=EndpointChange(ChangeKind.STOP)
    )
    assert advance(stopping, EndpointFacts(False), T0).status is S.COMPLETED


def test_running_on_a_config_changed_behind_its_back_is_cancelled() -> None:
    moved = advance(experiment(S.RUNNING), EndpointFacts(True, "InService", "other"), T0 + 150)
    assert moved.status is S.CANCELLED
    assert '"other"' in (moved.status_reason or "")


def test_updating_returns_where_it_came_from() -> None:
    assert advance(experiment(S.UPDATING, resume=S.CREATED), SERVING, T0).status is S.CREATED
    capacity = experiment(
        S.UPDATING,
        resume=S.RUNNING,
        change=EndpointChange(ChangeKind.CAPACITY, desired=({"VariantName": "Shadow"},)),
    )
    assert variant_statuses(capacity) == {"Prod": "Updating", "Shadow": "Updating"}
    assert advance(capacity, ON_EXPERIMENT, T0) == capacity  # not issued yet
    assert capacity.change is not None
    issued = capacity.with_changes(change=capacity.change.marked_issued())
    assert advance(issued, EndpointFacts(True, "Updating", "x", deploying=True), T0) == issued
    assert advance(issued, ON_EXPERIMENT, T0).status is S.RUNNING


def test_terminal_experiments_never_change() -> None:
    for status in (S.COMPLETED, S.CANCELLED):
        done = experiment(status)
        assert settle(done, EndpointFacts(False), T0 + 10_000) == done


def test_records_round_trip() -> None:
    original = experiment(
        S.STOPPING,
        stop_state=S.CANCELLED,
        actions={"Prod": VariantAction.RETAIN, "Shadow": VariantAction.REMOVE},
        change=EndpointChange(ChangeKind.CAPACITY, desired=({"VariantName": "Shadow"},)),
        data_storage={"Destination": "s3://b/p"},
        resume=S.RUNNING,
        variant_status={"Prod": VariantStatus.IN_SERVICE},
    )
    assert experiment_from_record(original.to_record()) == original
