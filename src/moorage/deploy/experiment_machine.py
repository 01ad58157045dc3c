"""The inference-experiment state machine: pure, driven by a transition table.

:func:`advance` maps (experiment, what the endpoint looks like, now) to the
experiment's next state. It never performs I/O: an endpoint change it asks
for (:class:`~moorage.domain.inference_experiment.EndpointChange`) is
carried out by the driver (:mod:`moorage.deploy.experiment_driver`), which
persists the experiment with the endpoint's new deployment in one store
transaction. The machine then watches the endpoint settle.

Statuses: ``Creating`` → ``Created`` → (start time, or StartInferenceExperiment)
``Starting`` → (the endpoint serves the experiment's config) ``Running`` →
(end time, or StopInferenceExperiment) ``Stopping`` → ``Completed`` /
``Cancelled``. ``Updating`` is an UpdateInferenceExperiment being applied;
it returns to the status it came from. Events, in priority order:
``endpoint_gone``, ``change_done``, ``change_failed``, ``moved_away``,
``expired``, ``due``, ``ended``, ``settled``, ``tick``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from moorage.domain.inference_experiment import (
    ChangeKind,
    EndpointChange,
    Experiment,
    ExperimentStatus,
    VariantAction,
    VariantStatus,
)

# Endpoint statuses in which a change handed to the endpoint has finished.
SETTLED = frozenset({"InService", "UpdateRollbackFailed"})
GONE = frozenset({"Failed", "Deleting"})


@dataclass(frozen=True)
class EndpointFacts:
    """The experiment's endpoint as the driver sees it this pass."""

    exists: bool
    status: str | None = None
    config_name: str | None = None
    failure_reason: str | None = None
    deploying: bool = False

    @property
    def settled(self) -> bool:
        return self.exists and self.status in SETTLED and not self.deploying

    @property
    def gone(self) -> bool:
        return not self.exists or self.status in GONE


class Event(enum.StrEnum):
    CREATED = "created"
    ENDPOINT_GONE = "endpoint_gone"
    CHANGE_DONE = "change_done"
    CHANGE_FAILED = "change_failed"
    MOVED_AWAY = "moved_away"
    EXPIRED = "expired"
    DUE = "due"
    ENDED = "ended"
    SETTLED = "settled"
    TICK = "tick"


def event_of(experiment: Experiment, facts: EndpointFacts, now: float) -> Event:
    """The one event this pass delivers, by priority."""
    status = experiment.status
    if experiment.terminal:
        return Event.TICK
    if status is ExperimentStatus.CREATING:
        return Event.CREATED
    if status is ExperimentStatus.UPDATING and experiment.resume is ExperimentStatus.CREATED:
        return Event.SETTLED
    if facts.gone:
        return Event.ENDPOINT_GONE
    change = experiment.change
    if change is not None and change.issued and facts.settled:
        reached = change.target_config is None or facts.config_name == change.target_config
        ok = reached and facts.status == "InService"
        return Event.CHANGE_DONE if ok else Event.CHANGE_FAILED
    if (
        status is ExperimentStatus.RUNNING
        and facts.settled
        and facts.config_name != experiment.experiment_config
    ):
        return Event.MOVED_AWAY
    waiting_to_start = status is ExperimentStatus.CREATED or (
        status is ExperimentStatus.STARTING and change is not None and not change.issued
    )
    if waiting_to_start and now >= experiment.end:
        return Event.EXPIRED
    if status is ExperimentStatus.CREATED and now >= experiment.start:
        return Event.DUE
    if status is ExperimentStatus.RUNNING and now >= experiment.end:
        return Event.ENDED
    return Event.TICK


# -- transitions -------------------------------------------------------------------

Transition = Callable[[Experiment, EndpointFacts, float], Experiment]


def _created(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    return experiment.with_changes(status=ExperimentStatus.CREATED, resume=None, modified=now)


def _start(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    return experiment.with_changes(
        status=ExperimentStatus.STARTING,
        change=EndpointChange(ChangeKind.START),
        modified=now,
    )


def _running(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    return experiment.with_changes(
        status=ExperimentStatus.RUNNING, change=None, resume=None, modified=now
    )


def _end(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    """The schedule ran out: the endpoint goes back to the config it had before."""
    return stopping(
        experiment,
        ExperimentStatus.COMPLETED,
        {
            experiment.source_variant: VariantAction.RETAIN,
            experiment.shadow_variant: VariantAction.REMOVE,
        },
        EndpointChange(
            ChangeKind.STOP, target_config=experiment.prior_config, spec=experiment.prior_spec
        ),
        None,
        now,
    )


def _stopped(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    state = experiment.stop_state or ExperimentStatus.COMPLETED
    return finished(experiment, state, experiment.status_reason, now, applied=True)


def _stop_failed(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    state = experiment.stop_state or ExperimentStatus.COMPLETED
    reason = facts.failure_reason or "The endpoint could not be updated to stop the experiment."
    return finished(experiment, state, reason, now, applied=False)


def _start_failed(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    reason = facts.failure_reason or "the endpoint did not reach the experiment's configuration"
    return cancelled(experiment, f"The experiment could not start: {reason}", now)


def _update_failed(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    reason = facts.failure_reason or "the endpoint update did not complete"
    return experiment.with_changes(
        status=ExperimentStatus.RUNNING,
        change=None,
        resume=None,
        status_reason=f"The update could not be applied: {reason}",
        modified=now,
    )


def _gone(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    what = "no longer exists" if not facts.exists else f"is {facts.status}"
    reason = f'Endpoint "{experiment.endpoint_name}" {what}.'
    if experiment.status is ExperimentStatus.STOPPING:
        state = experiment.stop_state or ExperimentStatus.COMPLETED
        return finished(experiment, state, reason, now, applied=False)
    return cancelled(experiment, reason, now)


def _moved_away(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    return cancelled(
        experiment,
        f'Endpoint "{experiment.endpoint_name}" was moved to endpoint configuration '
        f'"{facts.config_name}" outside the experiment.',
        now,
    )


def _expired(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    return cancelled(
        experiment,
        f'The experiment could not start before its end time: endpoint "'
        f'{experiment.endpoint_name}" was {facts.status} and never free to be updated.',
        now,
    )


TRANSITIONS: dict[tuple[ExperimentStatus, Event], Transition] = {
    (ExperimentStatus.CREATING, Event.CREATED): _created,
    (ExperimentStatus.UPDATING, Event.SETTLED): _created,
    (ExperimentStatus.CREATED, Event.DUE): _start,
    (ExperimentStatus.CREATED, Event.EXPIRED): _expired,
    (ExperimentStatus.CREATED, Event.ENDPOINT_GONE): _gone,
    (ExperimentStatus.STARTING, Event.EXPIRED): _expired,
    (ExperimentStatus.STARTING, Event.ENDPOINT_GONE): _gone,
    (ExperimentStatus.STARTING, Event.CHANGE_DONE): _running,
    (ExperimentStatus.STARTING, Event.CHANGE_FAILED): _start_failed,
    (ExperimentStatus.RUNNING, Event.ENDED): _end,
    (ExperimentStatus.RUNNING, Event.ENDPOINT_GONE): _gone,
    (ExperimentStatus.RUNNING, Event.MOVED_AWAY): _moved_away,
    (ExperimentStatus.UPDATING, Event.CHANGE_DONE): _running,
    (ExperimentStatus.UPDATING, Event.CHANGE_FAILED): _update_failed,
    (ExperimentStatus.UPDATING, Event.ENDPOINT_GONE): _gone,
    (ExperimentStatus.STOPPING, Event.CHANGE_DONE): _stopped,
    (ExperimentStatus.STOPPING, Event.CHANGE_FAILED): _stop_failed,
    (ExperimentStatus.STOPPING, Event.ENDPOINT_GONE): _gone,
}


def advance(experiment: Experiment, facts: EndpointFacts, now: float) -> Experiment:
    """One transition (or none); call again until the experiment stops changing."""
    event = event_of(experiment, facts, now)
    transition = TRANSITIONS.get((experiment.status, event))
    return experiment if transition is None else transition(experiment, facts, now)


def settle(experiment: Experiment, facts: EndpointFacts, now: float, limit: int = 10) -> Experiment:
    for _ in range(limit):
        following = advance(experiment, facts, now)
        if following == experiment:
            break
        experiment = following
    return experiment


def next_deadline(experiment: Experiment) -> float | None:
    """When the schedule next moves the experiment without anything else happening."""
    if experiment.status in (ExperimentStatus.CREATED, ExperimentStatus.STARTING):
        return experiment.start if experiment.status is ExperimentStatus.CREATED else experiment.end
    if experiment.status in (ExperimentStatus.RUNNING, ExperimentStatus.UPDATING):
        return experiment.end
    return None


# -- building blocks shared with the control plane -------------------------------


def stopping(
    experiment: Experiment,
    state: ExperimentStatus,
    actions: dict[str, VariantAction],
    change: EndpointChange,
    reason: str | None,
    now: float,
) -> Experiment:
    return experiment.with_changes(
        status=ExperimentStatus.STOPPING,
        stop_state=state,
        actions=actions,
        change=change,
        status_reason=reason,
        modified=now,
    )


def cancelled(experiment: Experiment, reason: str, now: float) -> Experiment:
    statuses = {v.variant_name: VariantStatus.DELETED for v in experiment.model_variants}
    if experiment.status in (ExperimentStatus.RUNNING, ExperimentStatus.UPDATING):
        # The endpoint kept the experiment's variants (or lost them with itself).
        statuses = {v.variant_name: VariantStatus.IN_SERVICE for v in experiment.model_variants}
    return experiment.with_changes(
        status=ExperimentStatus.CANCELLED,
        status_reason=reason,
        completion=now,
        change=None,
        resume=None,
        variant_status=statuses,
        modified=now,
    )


def finished(
    experiment: Experiment,
    state: ExperimentStatus,
    reason: str | None,
    now: float,
    *,
    applied: bool,
) -> Experiment:
    """The experiment stopped; ``applied``: the stop actions took effect on the endpoint."""
    statuses: dict[str, VariantStatus] = {}
    for variant in experiment.model_variants:
        action = experiment.actions.get(variant.variant_name, VariantAction.RETAIN)
        if not applied or action is not VariantAction.REMOVE:
            statuses[variant.variant_name] = VariantStatus.IN_SERVICE
        else:
            statuses[variant.variant_name] = VariantStatus.DELETED
    return experiment.with_changes(
        status=state,
        status_reason=reason,
        completion=now,
        change=None,
        resume=None,
        variant_status=statuses,
        modified=now,
    )


def variant_statuses(experiment: Experiment) -> dict[str, VariantStatus]:
    """Each variant's ``Status`` as DescribeInferenceExperiment reports it."""
    status = experiment.status
    names = [v.variant_name for v in experiment.model_variants]
    if experiment.terminal:
        return {n: experiment.variant_status.get(n, VariantStatus.DELETED) for n in names}
    if status is ExperimentStatus.RUNNING:
        return dict.fromkeys(names, VariantStatus.IN_SERVICE)
    if status is ExperimentStatus.UPDATING and experiment.resume is ExperimentStatus.RUNNING:
        return dict.fromkeys(names, VariantStatus.UPDATING)
    if status is ExperimentStatus.STOPPING:
        by_action = {
            VariantAction.REMOVE: VariantStatus.DELETING,
            VariantAction.PROMOTE: VariantStatus.UPDATING,
            VariantAction.RETAIN: VariantStatus.IN_SERVICE,
        }
        return {n: by_action[experiment.actions.get(n, VariantAction.RETAIN)] for n in names}
    return dict.fromkeys(names, VariantStatus.CREATING)
