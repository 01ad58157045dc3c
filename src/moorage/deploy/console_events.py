"""Console lines for endpoint lifecycle events, found by watching the reconciler's passes.

:class:`ConsoleEvents` is a reconciler hook, run after the rollout driver on
every endpoint each pass (as the dashboard's deployment history is). It
remembers what it last saw of each endpoint (status, failure reason, where
its rollout stood) and :func:`changes` turns the difference into lines for
:func:`moorage.console.event`: ``Creating``, ``InService in 4.2 s``,
``Failed: <reason>``, an update's start, each step, each bake and whether it
passed, a rollback with its reason (which names the alarm), and how the
update ended. A status set late in a pass (InService, Failed) is seen on the
next pass, at most a reconciler tick later; the durations printed come from
the endpoint's own times, so they are not late.

Steps that follow one another within one pass (instant steps) print only
where the pass left the rollout.

Inference components: the component runner (:mod:`moorage.deploy.components`)
passes each record it writes through :func:`component_lines` (InService with
its copies, Failed with its reason, an update's end).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from moorage.console import event
from moorage.deploy.deployment import Deployment
from moorage.deploy.driver import FleetView
from moorage.deploy.rollout import Phase, Rollout
from moorage.domain.endpoint import Endpoint, EndpointStatus
from moorage.domain.inference_component import ComponentStatus, InferenceComponent

# Endpoints remembered at most (the least recently seen are forgotten first).
MAX_ENDPOINTS = 4096


@dataclass(frozen=True)
class Seen:
    """What was last seen of one endpoint."""

    created: float
    status: EndpointStatus
    deployment_doc: Mapping[str, Any] | None
    deployment: Deployment | None


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


def _step(rollout: Rollout) -> str:
    steps = rollout.rollback if rollout.rolling_back else rollout.steps
    word = "rollback step" if rollout.rolling_back else "step"
    return f"{word} {min(rollout.step, len(steps) - 1) + 1}/{len(steps)} ({rollout.current.name})"


def _what(deployment: Deployment) -> str:
    if deployment.rollout.kind == "update":
        return f"update to endpoint config {deployment.new_config}"
    return "capacity change"


def _position_lines(name: str, before: Rollout | None, after: Rollout) -> list[str]:
    lines: list[str] = []
    baked = (
        before is not None
        and not before.rolling_back
        and not after.rolling_back
        and before.phase is Phase.WAITING
        and before.current.monitor
        and (after.step > before.step or after.phase is Phase.DONE)
    )
    if before is not None and baked:
        lines.append(f"endpoint {name}: bake passed after {_step(before)}")
    if after.rolling_back and (before is None or not before.rolling_back):
        lines.append(f"endpoint {name}: rolling back: {after.reason}")
    if after.finished:
        return lines
    if after.phase is Phase.APPLYING:
        lines.append(f"endpoint {name}: {_step(after)} under way")
    elif after.phase is Phase.WAITING and after.current.wait_s > 0:
        wait = _s(after.current.wait_s)
        if after.current.monitor and after.alarms:
            alarms = ", ".join(after.alarms)
            lines.append(f"endpoint {name}: baking {wait} after {_step(after)}; alarms: {alarms}")
        elif after.current.monitor:
            lines.append(f"endpoint {name}: baking {wait} after {_step(after)}")
        else:
            lines.append(f"endpoint {name}: waiting {wait} after {_step(after)}")
    return lines


def _end_state(rollout: Rollout, endpoint: Endpoint) -> Rollout:
    """The finished rollout, as far as the endpoint tells (its document is gone)."""
    forward = (
        endpoint.status is EndpointStatus.IN_SERVICE
        and endpoint.failure_reason is None
        and not rollout.rolling_back
    )
    if forward:
        return replace(rollout, phase=Phase.DONE)
    reason = endpoint.failure_reason or rollout.reason
    return replace(rollout, phase=Phase.ROLLED_BACK, rolling_back=True, reason=reason)


def _ended(name: str, before: Deployment, endpoint: Endpoint) -> list[str]:
    end = _end_state(before.rollout, endpoint)
    lines = _position_lines(name, before.rollout, end)
    took = _s(max(0.0, endpoint.modified - before.rollout.started))
    if endpoint.status is EndpointStatus.UPDATE_ROLLBACK_FAILED:
        lines.append(f"endpoint {name}: UpdateRollbackFailed: {endpoint.failure_reason}")
    elif end.rolling_back:
        back = f" to endpoint config {before.old_config}" if before.rollout.kind == "update" else ""
        lines.append(f"endpoint {name}: {_what(before)} rolled back{back} in {took}; InService")
    else:
        lines.append(f"endpoint {name}: {_what(before)} complete in {took}; InService")
    return lines


def _status_lines(name: str, before: Seen | None, endpoint: Endpoint) -> list[str]:
    status = endpoint.status
    if before is not None and before.status is status:
        return []
    if status is EndpointStatus.CREATING:
        return [f"endpoint {name}: Creating (endpoint config {endpoint.config_name})"]
    if before is None:
        return []
    if status is EndpointStatus.FAILED:
        return [f"endpoint {name}: Failed: {endpoint.failure_reason}"]
    if status is EndpointStatus.IN_SERVICE and before.status is EndpointStatus.CREATING:
        return [f"endpoint {name}: InService in {_s(endpoint.modified - endpoint.created)}"]
    if status is EndpointStatus.IN_SERVICE and before.status is EndpointStatus.SYSTEM_UPDATING:
        return [f"endpoint {name}: InService (every instance healthy again)"]
    if status in (EndpointStatus.DELETING, EndpointStatus.OUT_OF_SERVICE):
        return [f"endpoint {name}: {status.value}"]
    return []


def changes(before: Seen | None, endpoint: Endpoint) -> tuple[Seen, list[str]]:
    """What is seen now, and the console lines for what changed since ``before``."""
    name = endpoint.name
    doc = endpoint.deployment
    old = before.deployment if before is not None else None
    if before is not None and doc is not None and doc == before.deployment_doc:
        deployment = before.deployment
    else:
        deployment = Deployment.from_doc(doc) if doc is not None else None
    lines: list[str] = []
    if deployment is not None:
        same = old is not None and old.rollout.started == deployment.rollout.started
        if not same:
            if old is not None:
                lines += _ended(name, old, endpoint)
            steps = len(deployment.rollout.steps)
            # First sight with a deployment under way: the server restarted during it.
            verb = "started" if before is not None else "resumed"
            lines.append(f"endpoint {name}: {_what(deployment)} {verb} ({steps} steps)")
            lines += _position_lines(name, None, deployment.rollout)
        elif old is not None and before is not None and doc != before.deployment_doc:
            o, n = old.rollout, deployment.rollout
            if (o.rolling_back, o.step, o.phase) != (n.rolling_back, n.step, n.phase):
                lines += _position_lines(name, o, n)
    elif old is not None:
        lines += _ended(name, old, endpoint)
    lines += _status_lines(name, before, endpoint)
    return Seen(endpoint.created, endpoint.status, doc, deployment), lines


class ConsoleEvents:
    """The reconciler hook that prints :func:`changes` (see the module docstring)."""

    def __init__(self, emit: Callable[[str], None] = event) -> None:
        self.emit = emit
        self._seen: OrderedDict[str, Seen] = OrderedDict()

    def hook(self, endpoint: Endpoint, fleet: FleetView) -> Endpoint:
        key = endpoint.name.lower()
        before = self._seen.get(key)
        if before is not None and before.created != endpoint.created:
            before = None  # deleted and created again under the same name
        if (
            before is not None
            and before.status is endpoint.status
            and before.deployment_doc is None
            and endpoint.deployment is None
        ):
            return endpoint
        seen, lines = changes(before, endpoint)
        self._seen[key] = seen
        self._seen.move_to_end(key)
        while len(self._seen) > MAX_ENDPOINTS:
            self._seen.popitem(last=False)
        for line in lines:
            self.emit(line)
        return endpoint


def component_lines(before: InferenceComponent | None, after: InferenceComponent) -> list[str]:
    """Console lines for an inference component whose record changes from ``before``."""
    if before is not None and before.status is after.status:
        return []
    what = f"inference component {after.name} (endpoint {after.endpoint_name})"
    copies = f"{after.current_copies} of {after.desired_copies} copies"
    if after.status is ComponentStatus.FAILED:
        return [f"{what}: Failed: {after.failure_reason}"]
    if after.status is not ComponentStatus.IN_SERVICE or before is None:
        return []
    if before.status is ComponentStatus.CREATING:
        return [f"{what}: InService in {_s(after.modified - after.created)}, {copies}"]
    if after.failure_reason and after.failure_reason != before.failure_reason:
        return [f"{what}: update rolled back: {after.failure_reason}; InService, {copies}"]
    return [f"{what}: InService, {copies}"]
