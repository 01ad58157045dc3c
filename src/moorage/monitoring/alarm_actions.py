"""Alarm actions: what an alarm does when it enters a state, and while it stays there.

A metric alarm names actions by ARN (``AlarmActions``, ``OKActions``,
``InsufficientDataActions``). moorage runs the actions that something in the
server has registered a handler for, by ARN prefix — Application Auto Scaling
policies (``arn:aws:autoscaling:...:scalingPolicy:...``), registered by
:mod:`moorage.autoscaling`; any other action (an SNS topic, an EC2 action) is
kept in the alarm's definition and never run.

When, as CloudWatch does it ("Alarm actions" in the CloudWatch user guide):

- on every transition into a state, evaluated or forced by ``SetAlarmState``,
  the actions of the new state are invoked once, if the alarm's
  ``ActionsEnabled`` is true;
- a handler registered with ``repeat=True`` (Auto Scaling actions) is invoked
  again once per :data:`REPEAT_SECONDS` while the alarm stays in that state.
  An alarm restored in a state at start counts from its last transition, so a
  policy whose alarm was in ``ALARM`` when the server stopped is invoked at
  the first tick.

The :class:`~moorage.monitoring.evaluator.AlarmEvaluator` calls
:meth:`AlarmActions.entered` after its subscribers heard of a transition
(the new state is on disk by then) and :meth:`AlarmActions.repeat` for
every alarm at every tick. Handlers run synchronously on the event loop's
thread: they must not block, and hand work to a loop of their own. A handler
that raises is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from moorage.monitoring.alarm_state import AlarmState
from moorage.monitoring.alarms import AlarmDefinition, StateValue

log = logging.getLogger(__name__)

# How often a repeating action is invoked again while its alarm stays in the state.
REPEAT_SECONDS = 60.0


@dataclass(frozen=True)
class ActionInvocation:
    """One action of one alarm, invoked."""

    alarm_name: str
    action: str
    state: StateValue
    at: float
    # True for the once-a-minute invocation of an alarm that stayed in its state.
    repeated: bool = False


ActionHandler = Callable[[ActionInvocation], None]


@dataclass(frozen=True)
class _Registration:
    prefix: str
    handler: ActionHandler
    repeat: bool


def actions_for(definition: AlarmDefinition, state: StateValue) -> tuple[str, ...]:
    """The actions ``definition`` names for ``state``."""
    if state is StateValue.ALARM:
        return definition.alarm_actions
    if state is StateValue.OK:
        return definition.ok_actions
    return definition.insufficient_data_actions


class AlarmActions:
    """The registered action handlers, and when each alarm's actions last ran."""

    def __init__(self) -> None:
        self._registrations: list[_Registration] = []
        # (alarm name, action) → when it was last invoked.
        self._last: dict[tuple[str, str], float] = {}

    def register(
        self, prefix: str, handler: ActionHandler, *, repeat: bool = False
    ) -> Callable[[], None]:
        """Run ``handler`` for actions starting with ``prefix``; returns the unregisterer."""
        registration = _Registration(prefix, handler, repeat)
        self._registrations.append(registration)

        def unregister() -> None:
            if registration in self._registrations:
                self._registrations.remove(registration)

        return unregister

    def entered(self, definition: AlarmDefinition, state: AlarmState, now: float) -> None:
        """``definition``'s alarm has just transitioned into ``state``."""
        if not self._registrations or not definition.actions_enabled:
            return
        for action in actions_for(definition, state.value):
            for registration in self._matching(action):
                self._invoke(registration, definition.name, action, state.value, now, False)

    def repeat(self, definition: AlarmDefinition, state: AlarmState, now: float) -> None:
        """Invoke the repeating actions of an alarm that stayed in ``state``, when due."""
        if not self._registrations or not definition.actions_enabled:
            return
        for action in actions_for(definition, state.value):
            for registration in self._matching(action):
                if not registration.repeat:
                    continue
                last = self._last.get((definition.name, action), state.transitioned_at)
                if now - last >= REPEAT_SECONDS:
                    self._invoke(registration, definition.name, action, state.value, now, True)

    def forget(self, alarm_name: str) -> None:
        """The alarm was deleted."""
        for key in [k for k in self._last if k[0] == alarm_name]:
            del self._last[key]

    def _matching(self, action: str) -> list[_Registration]:
        return [r for r in self._registrations if action.startswith(r.prefix)]

    def _invoke(
        self,
        registration: _Registration,
        alarm_name: str,
        action: str,
        state: StateValue,
        now: float,
        repeated: bool,
    ) -> None:
        self._last[(alarm_name, action)] = now
        try:
            registration.handler(ActionInvocation(alarm_name, action, state, now, repeated))
        except Exception:
            log.exception("alarm action %s of alarm %s failed", action, alarm_name)
