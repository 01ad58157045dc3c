"""The rollout state machine: pure, persisted, driven by a transition table.

A :class:`Rollout` is the whole state of one endpoint update: the steps
(:mod:`moorage.deploy.timeline`), where it stands (step index and phase),
when the phase began, the deadline, and — once something went wrong — the
rollback steps and the reason. :func:`advance` maps (state, facts, now) to
the next state; it never performs I/O. The reconciler's hook
(:mod:`moorage.deploy.driver`) persists the result before acting on it.

Phases of a step: ``applying`` (its layout is wanted; waiting for every
instance to be healthy) → ``waiting`` (its wait, a bake when monitored) →
the next step's ``applying``. Events, in priority order: ``timeout``,
``fleet_failed``, ``alarm``, ``fleet_ready``, ``elapsed``, ``tick``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from moorage.deploy.policy import Size
from moorage.deploy.timeline import Layout, Step, rollback_steps, terms_for


class Phase(enum.StrEnum):
    APPLYING = "applying"
    WAITING = "waiting"
    DONE = "done"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


class Event(enum.StrEnum):
    TIMEOUT = "timeout"
    FLEET_FAILED = "fleet_failed"
    ALARM = "alarm"
    FLEET_READY = "fleet_ready"
    ELAPSED = "elapsed"
    TICK = "tick"
    RESUMED = "resumed"


@dataclass(frozen=True)
class Facts:
    """What the driver observed this pass."""

    now: float
    ready: bool = False  # every instance of the current layout is healthy
    failure: str | None = None  # an instance of the current layout cannot start
    alarm: str | None = None  # a rollback alarm in ALARM


@dataclass(frozen=True)
class Rollout:
    kind: str  # "update" | "capacity" | "component" (an inference component's copies)
    steps: tuple[Step, ...]
    blue_counts: Mapping[str, int]
    rollback_batch: Size | None
    alarms: tuple[str, ...]
    started: float
    deadline: float
    max_execution_s: float
    step: int = 0
    phase: Phase = Phase.APPLYING
    since: float = 0.0
    rolling_back: bool = False
    reason: str | None = None
    rollback: tuple[Step, ...] = field(default_factory=tuple)
    # The forward step at which the rollback began.
    failed_at: int = 0

    @property
    def current(self) -> Step:
        steps = self.rollback if self.rolling_back else self.steps
        return steps[min(self.step, len(steps) - 1)]

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.DONE, Phase.ROLLED_BACK, Phase.ROLLBACK_FAILED)

    @property
    def switched(self) -> bool:
        """Whether the endpoint serves the new variants at the current step."""
        forward = any(
            s.switch for s in self.steps[: (self.failed_at if self.rolling_back else self.step) + 1]
        )
        if not self.rolling_back:
            return forward
        return forward and not any(s.switch for s in self.rollback[: self.step + 1])

    def to_doc(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "steps": [s.to_doc() for s in self.steps],
            "blue_counts": dict(self.blue_counts),
            "rollback_batch": (
                [self.rollback_batch.type.value, self.rollback_batch.value]
                if self.rollback_batch
                else None
            ),
            "alarms": list(self.alarms),
            "started": self.started,
            "deadline": self.deadline,
            "max_execution_s": self.max_execution_s,
            "step": self.step,
            "phase": self.phase.value,
            "since": self.since,
            "rolling_back": self.rolling_back,
            "reason": self.reason,
            "rollback": [s.to_doc() for s in self.rollback],
            "failed_at": self.failed_at,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Rollout:
        batch = doc.get("rollback_batch")
        return cls(
            kind=str(doc["kind"]),
            steps=tuple(Step.from_doc(s) for s in doc["steps"]),
            blue_counts={k: int(v) for k, v in doc["blue_counts"].items()},
            rollback_batch=Size.parse({"Type": batch[0], "Value": batch[1]}) if batch else None,
            alarms=tuple(doc.get("alarms", ())),
            started=float(doc["started"]),
            deadline=float(doc["deadline"]),
            max_execution_s=float(doc["max_execution_s"]),
            step=int(doc["step"]),
            phase=Phase(doc["phase"]),
            since=float(doc["since"]),
            rolling_back=bool(doc["rolling_back"]),
            reason=doc.get("reason"),
            rollback=tuple(Step.from_doc(s) for s in doc.get("rollback", ())),
            failed_at=int(doc.get("failed_at", 0)),
        )


def start(
    *,
    kind: str,
    steps: list[Step],
    blue_counts: Mapping[str, int],
    rollback_batch: Size | None,
    alarms: tuple[str, ...],
    now: float,
    max_execution_s: float,
) -> Rollout:
    return Rollout(
        kind=kind,
        steps=tuple(steps),
        blue_counts=dict(blue_counts),
        rollback_batch=rollback_batch,
        alarms=alarms,
        started=now,
        deadline=now + max_execution_s,
        max_execution_s=max_execution_s,
        since=now,
    )


# -- events ----------------------------------------------------------------------


def event_of(state: Rollout, facts: Facts) -> Event:
    """The one event this pass delivers, by priority."""
    if state.finished:
        return Event.TICK
    if not state.rolling_back and facts.now >= state.deadline:
        return Event.TIMEOUT
    if state.phase is Phase.APPLYING and facts.failure is not None:
        return Event.FLEET_FAILED
    if not state.rolling_back and state.current.monitor and facts.alarm is not None:
        return Event.ALARM
    if state.phase is Phase.APPLYING and facts.ready:
        return Event.FLEET_READY
    if state.phase is Phase.WAITING and facts.now >= state.since + state.current.wait_s:
        return Event.ELAPSED
    return Event.TICK


# -- transitions -------------------------------------------------------------------

Transition = Callable[[Rollout, Facts], Rollout]


def _stay(state: Rollout, facts: Facts) -> Rollout:
    return state


def _ready(state: Rollout, facts: Facts) -> Rollout:
    waiting = replace(state, phase=Phase.WAITING, since=facts.now)
    if waiting.current.wait_s <= 0:
        return _next(waiting, facts)
    return waiting


def _next(state: Rollout, facts: Facts) -> Rollout:
    steps = state.rollback if state.rolling_back else state.steps
    if state.step + 1 >= len(steps):
        return replace(
            state, phase=Phase.ROLLED_BACK if state.rolling_back else Phase.DONE, since=facts.now
        )
    return replace(state, step=state.step + 1, phase=Phase.APPLYING, since=facts.now)


def _roll_back(reason: str) -> Callable[[Rollout, Facts], Rollout]:
    def transition(state: Rollout, facts: Facts) -> Rollout:
        layouts = dict(state.current.layouts)
        steps = rollback_steps(
            layouts, state.blue_counts, state.rollback_batch, terms_for(state.kind)
        )
        return replace(
            state,
            rolling_back=True,
            rollback=tuple(steps),
            step=0,
            phase=Phase.APPLYING,
            since=facts.now,
            reason=reason.format(
                failure=facts.failure, alarm=facts.alarm, state=state, terms=terms_for(state.kind)
            ),
            failed_at=state.step,
        )

    return transition


def _rollback_failed(state: Rollout, facts: Facts) -> Rollout:
    return replace(
        state,
        phase=Phase.ROLLBACK_FAILED,
        since=facts.now,
        reason=f"{state.reason} The rollback failed too: {facts.failure}",
    )


def _restart_wait(state: Rollout, facts: Facts) -> Rollout:
    """After a restart nothing was watched for a while: a wait starts over."""
    if state.phase is Phase.WAITING:
        return replace(state, since=facts.now)
    return state


_TIMEOUT_REASON = (
    "The deployment did not complete within MaximumExecutionTimeoutInSeconds "
    "({state.max_execution_s:g} seconds) and was rolled back."
)
_FAILURE_REASON = "{terms.failed_start} and the update was rolled back: {failure}"
_ALARM_REASON = (
    'The deployment was rolled back because alarm "{alarm}" went into ALARM state '
    "during a baking period."
)

# (rolling back?, phase, event) → transition. Missing entries keep the state.
TRANSITIONS: dict[tuple[bool, Phase, Event], Transition] = {
    (False, Phase.APPLYING, Event.TIMEOUT): _roll_back(_TIMEOUT_REASON),
    (False, Phase.WAITING, Event.TIMEOUT): _roll_back(_TIMEOUT_REASON),
    (False, Phase.APPLYING, Event.FLEET_FAILED): _roll_back(_FAILURE_REASON),
    (False, Phase.APPLYING, Event.ALARM): _roll_back(_ALARM_REASON),
    (False, Phase.WAITING, Event.ALARM): _roll_back(_ALARM_REASON),
    (False, Phase.APPLYING, Event.FLEET_READY): _ready,
    (False, Phase.WAITING, Event.ELAPSED): _next,
    (False, Phase.WAITING, Event.RESUMED): _restart_wait,
    (True, Phase.APPLYING, Event.FLEET_FAILED): _rollback_failed,
    (True, Phase.APPLYING, Event.FLEET_READY): _ready,
    (True, Phase.WAITING, Event.ELAPSED): _next,
}


def advance(state: Rollout, facts: Facts, event: Event | None = None) -> Rollout:
    """One transition; call again until the state stops changing."""
    chosen = event if event is not None else event_of(state, facts)
    transition = TRANSITIONS.get((state.rolling_back, state.phase, chosen), _stay)
    return transition(state, facts)


def settle(state: Rollout, facts: Facts, limit: int = 100) -> Rollout:
    """Apply transitions until none applies (instant steps chain in one pass)."""
    for _ in range(limit):
        following = advance(state, facts)
        if following == state:
            return state
        state = following
        # Readiness and failures were observed for the previous layout only.
        facts = replace(facts, ready=False, failure=None)
    return state


def current_layouts(state: Rollout) -> Mapping[str, Layout]:
    return state.current.layouts
