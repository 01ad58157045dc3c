"""Drives inference experiments from the reconciler's loop: observe, advance, persist, act.

Once per reconciler pass (:meth:`ExperimentDriver.run_pass`, before
endpoints are reconciled) every experiment is advanced by the pure machine
(:mod:`moorage.deploy.experiment_machine`) against its endpoint as stored.
An endpoint change the machine asks for is handed to the endpoint the way
UpdateEndpoint and UpdateEndpointWeightsAndCapacities do it — a planned,
persisted rollout (:mod:`moorage.deploy.planning`) that the rollout driver
carries out with no failed request — once the endpoint is ``InService``.
The experiment (change marked issued), a generated endpoint config and the
endpoint's deployment are written in one store transaction, so a server
killed at any point resumes the experiment where it was.

Scheduled transitions ask the reconciler to wake at the experiment's next
start or end time (clock time), so nothing sleeps and a restarted server
simply finds the times passed. The driver also tells the shadow mirror
(:mod:`moorage.runtime.shadow`) which endpoints capture pairs for a running
experiment's ``DataStorageConfig``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from moorage.arns import Partition
from moorage.capture import CaptureConfig, CaptureConfigError
from moorage.clock import Clock
from moorage.deploy.experiment_configs import experiment_config, generated_name
from moorage.deploy.experiment_machine import (
    EndpointFacts,
    cancelled,
    finished,
    next_deadline,
    settle,
)
from moorage.deploy.planning import plan_capacities, plan_update
from moorage.deploy.policy import PolicyError
from moorage.domain import endpoint as endpoint_domain
from moorage.domain import endpoint_config as config_domain
from moorage.domain.endpoint import Endpoint, EndpointStatus, endpoint_from_record
from moorage.domain.inference_experiment import (
    KIND,
    ChangeKind,
    EndpointChange,
    Experiment,
    ExperimentStatus,
    experiment_from_record,
)
from moorage.store.base import Record, Store, StoreUnavailable

log = logging.getLogger(__name__)


class CaptureTarget(Protocol):
    """Where experiment capture configs go (:class:`moorage.runtime.shadow.ShadowMirror`)."""

    def set_capture(self, endpoint: str, config: CaptureConfig | None) -> None: ...


class NoCapture:
    def set_capture(self, endpoint: str, config: CaptureConfig | None) -> None:
        return None


def capture_config(experiment: Experiment) -> CaptureConfig | None:
    """The experiment's ``DataStorageConfig`` as a capture config (SSE-KMS with its key)."""
    storage = experiment.data_storage
    if not storage:
        return None
    if not storage.get("KmsKey") and experiment.kms_key:
        storage = {**storage, "KmsKey": experiment.kms_key}
    try:
        return CaptureConfig.from_data_storage_config(storage)
    except CaptureConfigError:
        log.warning("experiment %s: DataStorageConfig cannot be captured", experiment.name)
        return None


def capturing(experiment: Experiment) -> bool:
    """Whether the experiment's shadow is live on its endpoint now."""
    status = experiment.status
    return status in (ExperimentStatus.RUNNING, ExperimentStatus.STOPPING) or (
        status is ExperimentStatus.UPDATING and experiment.resume is ExperimentStatus.RUNNING
    )


def drop_unused_config(store: Store, partition: Partition, experiment: Experiment) -> None:
    """Delete the config generated for ``experiment`` once no endpoint is on it."""
    name = experiment.experiment_config
    if name is None or store.get(config_domain.KIND, name) is None:
        return
    for record in store.list_records(endpoint_domain.KIND):
        endpoint = endpoint_from_record(record)
        deployment = endpoint.deployment or {}
        used = {endpoint.config_name, deployment.get("old_config"), deployment.get("new_config")}
        if name in used:
            return
    with store.transaction():
        store.delete(config_domain.KIND, name)
        store.drop_tags(partition.arn(config_domain.KIND, name))


def facts_of(endpoint: Endpoint | None) -> EndpointFacts:
    if endpoint is None:
        return EndpointFacts(exists=False)
    return EndpointFacts(
        exists=True,
        status=endpoint.status.value,
        config_name=endpoint.config_name,
        failure_reason=endpoint.failure_reason,
        deploying=endpoint.deployment is not None,
    )


class ExperimentDriver:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        partition: Partition,
        *,
        wake_at: Callable[[float], None] = lambda at: None,
        poke: Callable[[str], None] = lambda name: None,
        capture: CaptureTarget | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.partition = partition
        self.wake_at = wake_at
        self.poke = poke
        self.capture: CaptureTarget = capture or NoCapture()
        self._captured: set[str] = set()

    def run_pass(self) -> None:
        experiments = []
        for record in self.store.list_records(KIND):
            try:
                experiments.append(self.advance(experiment_from_record(record)))
            except StoreUnavailable:
                pass  # logged once by the store
            except Exception:
                log.exception("advancing inference experiment %s failed", record.name)
        self._sync_capture(experiments)

    # -- one experiment -----------------------------------------------------

    def _endpoint(self, name: str) -> Endpoint | None:
        record = self.store.get(endpoint_domain.KIND, name)
        return endpoint_from_record(record) if record is not None else None

    def advance(self, experiment: Experiment) -> Experiment:
        if experiment.terminal:
            return experiment
        endpoint = self._endpoint(experiment.endpoint_name)
        now = self.clock.now()
        following = settle(experiment, facts_of(endpoint), now)
        change = following.change
        if (
            change is not None
            and not change.issued
            and endpoint is not None
            and endpoint.status is EndpointStatus.IN_SERVICE
            and endpoint.deployment is None
        ):
            following = self._issue(following, endpoint, now)
        elif following != experiment:
            self.store.put(following.to_record())
        if following.terminal and not experiment.terminal:
            self.drop_unused_config(following)
        deadline = next_deadline(following)
        if deadline is not None:
            self.wake_at(deadline)
        return following

    def _issue(self, experiment: Experiment, endpoint: Endpoint, now: float) -> Experiment:
        """Hand the experiment's change to the endpoint; persisted all together."""
        try:
            with self.store.transaction():
                issued, updated = self._plan(experiment, endpoint, now)
                if updated is not None:
                    self.store.put(updated.to_record())
                self.store.put(issued.to_record())
        except (PolicyError, ValueError, KeyError) as exc:
            failed = self._failed(experiment, str(exc), now)
            self.store.put(failed.to_record())
            return failed
        self.poke(endpoint.name)
        return issued

    def _failed(self, experiment: Experiment, reason: str, now: float) -> Experiment:
        log.warning("experiment %s: %s", experiment.name, reason)
        message = f"The endpoint could not be updated: {reason}"
        if experiment.status is ExperimentStatus.STOPPING:
            state = experiment.stop_state or ExperimentStatus.COMPLETED
            return finished(experiment, state, message, now, applied=False)
        if experiment.status is ExperimentStatus.UPDATING:
            return experiment.with_changes(
                status=ExperimentStatus.RUNNING,
                change=None,
                resume=None,
                status_reason=message,
                modified=now,
            )
        return cancelled(experiment, message, now)

    def _plan(
        self, experiment: Experiment, endpoint: Endpoint, now: float
    ) -> tuple[Experiment, Endpoint | None]:
        change = experiment.change
        assert change is not None
        if change.kind is ChangeKind.START:
            prior = self._config_spec(endpoint.config_name)
            name = generated_name(experiment.name, "shadow", now)
            spec = experiment_config(experiment, prior, name)
            self._create_config(spec, now)
            experiment = experiment.with_changes(
                prior_config=endpoint.config_name,
                prior_spec=prior,
                experiment_config=name,
                change=EndpointChange(ChangeKind.START, name, spec, issued=True),
                modified=now,
            )
            return experiment, self._update(endpoint, name, now)
        if change.kind is ChangeKind.CAPACITY:
            deployment = plan_capacities(endpoint, change.desired, now=now)
            updated = endpoint.with_changes(
                status=EndpointStatus.UPDATING,
                failure_reason=None,
                deployment=deployment.to_doc(),
                modified=now,
            )
            return self._mark_issued(experiment, now), updated
        target = change.target_config
        if target is None:
            raise ValueError("the experiment has no endpoint configuration to return to")
        if self.store.get(config_domain.KIND, target) is None:
            if change.spec is None:
                raise ValueError(f'endpoint configuration "{target}" no longer exists')
            self._create_config(change.spec, now)
        if endpoint.config_name == target:
            return self._mark_issued(experiment, now), None
        return self._mark_issued(experiment, now), self._update(endpoint, target, now)

    @staticmethod
    def _mark_issued(experiment: Experiment, now: float) -> Experiment:
        assert experiment.change is not None
        return experiment.with_changes(change=experiment.change.marked_issued(), modified=now)

    def _config_spec(self, name: str) -> Mapping[str, Any] | None:
        record = self.store.get(config_domain.KIND, name)
        return record.doc.get("spec") if record is not None else None

    def _create_config(self, spec: Mapping[str, Any], now: float) -> None:
        name = str(spec["EndpointConfigName"])
        arn = self.partition.arn(config_domain.KIND, name)
        self.store.put(Record(config_domain.KIND, name, arn, now, now, {"spec": dict(spec)}))

    def _update(self, endpoint: Endpoint, config_name: str, now: float) -> Endpoint:
        record = self.store.get(config_domain.KIND, config_name)
        if record is None:
            raise ValueError(f'endpoint configuration "{config_name}" does not exist')
        config = config_domain.endpoint_config_from_record(record)
        return plan_update(endpoint, config, deployment_config=None, now=now).started(endpoint, now)

    def drop_unused_config(self, experiment: Experiment) -> None:
        drop_unused_config(self.store, self.partition, experiment)

    # -- data capture ------------------------------------------------------------

    def _sync_capture(self, experiments: list[Experiment]) -> None:
        wanted: dict[str, CaptureConfig] = {}
        for experiment in experiments:
            if capturing(experiment):
                config = capture_config(experiment)
                if config is not None:
                    wanted[experiment.endpoint_name.lower()] = config
        for endpoint in self._captured - set(wanted):
            self.capture.set_capture(endpoint, None)
        for endpoint, config in wanted.items():
            self.capture.set_capture(endpoint, config)
        self._captured = set(wanted)
